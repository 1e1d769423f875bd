"""The audio-text scorers that measure alignment and LPAPS, by kind (an adapter's ``scorer``)."""

from __future__ import annotations

from pathlib import Path

from tada.errors import unknown_name
from tada.metrics.cache import checkpoint_tag
from tada.scoring.base import AudioTextScorer

#: scorer kinds: the mini world's scorer, CLAP
SCORERS: tuple[str, ...] = ("mini", "clap")


def scorer_name(kind: str) -> str:
    """The alignment column a scorer fills (its kind), checking the kind."""
    if kind not in SCORERS:
        raise unknown_name("scorer", kind, SCORERS)
    return kind


def scorer_checkpoint(kind: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> str:
    """Where a scorer of ``kind`` is loaded from: the trained mini scorer under ``results_dir``,
    or a CLAP folder / hub id (``clap_checkpoint``, default :data:`tada.scoring.clap.DEFAULT_CHECKPOINT`)."""
    if scorer_name(kind) == "mini":
        return f"{results_dir}/mini/scorer"
    from tada.scoring.clap import DEFAULT_CHECKPOINT

    return clap_checkpoint or DEFAULT_CHECKPOINT


def scorer_tag(kind: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> str:
    """A cache tag that changes when the scorer's checkpoint changes."""
    return f"{scorer_name(kind)}/{checkpoint_tag(scorer_checkpoint(kind, results_dir, clap_checkpoint))}"


def load_scorer(kind: str, results_dir: str | Path, clap_checkpoint: str | None = None) -> AudioTextScorer:
    """A scorer of ``kind``: ``MiniScorer`` from ``{results_dir}/mini/scorer`` for ``mini``, else CLAP."""
    path = scorer_checkpoint(kind, results_dir, clap_checkpoint)
    if scorer_name(kind) == "mini":
        from tada.scoring.mini import MiniScorer

        return MiniScorer.from_pretrained(path)
    from tada.scoring.clap import ClapScorer

    return ClapScorer.from_pretrained(path)
