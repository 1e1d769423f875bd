"""Which audio-text scorer measures alignment and LPAPS for each architecture."""

from __future__ import annotations

from pathlib import Path

from tada.errors import unknown_name
from tada.metrics.cache import checkpoint_tag
from tada.models import ARCHITECTURES
from tada.scoring.base import AudioTextScorer


def scorer_name(arch: str) -> str:
    """The alignment column an architecture's scorer fills: ``mini`` or ``clap``."""
    if arch not in ARCHITECTURES:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    return "mini" if arch == "mini" else "clap"


def scorer_checkpoint(arch: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> str:
    """Where the scorer of ``arch`` is loaded from: the trained mini scorer under ``results_dir``,
    or a CLAP folder / hub id (``clap_checkpoint``, default :data:`tada.scoring.clap.DEFAULT_CHECKPOINT`)."""
    if scorer_name(arch) == "mini":
        return f"{results_dir}/mini/scorer"
    from tada.scoring.clap import DEFAULT_CHECKPOINT

    return clap_checkpoint or DEFAULT_CHECKPOINT


def scorer_tag(arch: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> str:
    """A cache tag that changes when the scorer's checkpoint changes."""
    return f"{scorer_name(arch)}/{checkpoint_tag(scorer_checkpoint(arch, results_dir, clap_checkpoint))}"


def load_scorer(arch: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> AudioTextScorer:
    """The scorer of ``arch``: ``MiniScorer`` from ``{results_dir}/mini/scorer`` for ``mini``,
    CLAP for the real architectures."""
    path = scorer_checkpoint(arch, results_dir, clap_checkpoint)
    if scorer_name(arch) == "mini":
        from tada.scoring.mini import MiniScorer

        return MiniScorer.from_pretrained(path)
    from tada.scoring.clap import ClapScorer

    return ClapScorer.from_pretrained(path)
