"""The steering methods by name, and how a (method, arm) cell builds its controller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tada.errors import ConfigError, unknown_name
from tada.steering.caa import CAA
from tada.steering.concepts import Concept
from tada.steering.controller import ArtifactController, Controller
from tada.steering.freesliders import FreeSliders
from tada.steering.pci import PCI
from tada.steering.textemb import TextEmb

METHODS: dict[str, type[Controller]] = {"pci": PCI, "textemb": TextEmb, "freesliders": FreeSliders, "caa": CAA}
#: arms of a protocol cell: every cross-attention site, or the localized preset
ARMS: tuple[str, ...] = ("all", "loc")


def method_class(method: str) -> type[Controller]:
    if method not in METHODS:
        raise unknown_name("steering method", method, METHODS)
    return METHODS[method]


def needs_artifact(method: str) -> bool:
    """Whether ``method`` has a compute step whose artifact a sweep loads."""
    return issubclass(method_class(method), ArtifactController)


def cell_name(method: str, arm: str) -> str:
    return f"{method}_{arm}"


def split_cell(cell: str) -> tuple[str, str]:
    """``caa_loc`` -> (``caa``, ``loc``), checking both names."""
    method, _, arm = cell.rpartition("_")
    method_class(method)
    if arm not in ARMS:
        raise unknown_name("steering arm", arm, ARMS)
    return method, arm


def make_controller(
    method: str, concept: Concept | None, target_layers: str | None = None, artifact: str | Path | None = None,
    **options: Any,
) -> Controller:
    """The controller of ``method`` for ``concept`` at ``target_layers`` (loading ``artifact`` if it has one:
    its concept and sites are the defaults)."""
    cls = method_class(method)
    if target_layers is not None:
        options["target_layers"] = target_layers
    if issubclass(cls, ArtifactController):
        if artifact is None:
            raise ConfigError(f"{method} needs an artifact: compute it first (`tada compute --method {method}`)")
        return cls.from_pretrained(artifact, concept, **options)
    if concept is None:
        raise ConfigError(f"{method} needs a concept")
    return cls(concept, **options)
