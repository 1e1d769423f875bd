"""Errors raised on bad input, each saying what is wrong and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class TadaError(ValueError):
    """Base class of every user-facing error in tada."""


class UnknownNameError(TadaError, KeyError):
    """An architecture, site, preset, feature or method name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MissingCheckpointError(TadaError, FileNotFoundError):
    """A model or metric checkpoint that is not on disk nor in the local hub cache."""


class MissingPackageError(TadaError, ImportError):
    """An optional package an architecture or metric backend needs is not installed."""


class ConfigError(TadaError):
    """A config file or prompt file that does not validate."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """Build an error for an unknown ``name``, listing the valid ones and the closest match."""
    valid = sorted(set(valid))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(valid[:40]) + (", ..." if len(valid) > 40 else "")
    return UnknownNameError(f"unknown {kind} '{name}'.{hint} Valid: {shown}")


def check_choice(option: str, value: str, choices: Iterable[str]) -> None:
    """Refuse an option ``value`` that is not one of ``choices``, naming the valid ones."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{option} must be one of {' | '.join(choices)}; got '{value}'")


def missing_prompt_file(path: str | Path, holds: str) -> ConfigError:
    """Build an error for a prompt file that is not there: where relative paths start, what it must hold."""
    return ConfigError(f"prompt file '{path}' does not exist (relative paths start at {Path.cwd()}): give {holds}")
