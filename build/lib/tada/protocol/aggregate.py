"""From per-clip metrics of a sweep to per-alpha curves (means over prompts and seeds)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tada.errors import TadaError
from tada.manifest import MANIFEST_COLUMNS


def per_alpha(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean of every metric column per ``(concept, method, alpha)``, undefined values skipped.

    Returns ``concept, cell, alpha, n_clips`` and the metric columns; ``cell`` is the method.
    """
    missing = [c for c in ("concept", "method", "alpha") if c not in metrics.columns]
    if missing:
        raise TadaError(f"per-clip metrics lack column(s) {missing}")
    values = [c for c in metrics.columns if c not in MANIFEST_COLUMNS]
    groups = metrics.groupby(["concept", "method", "alpha"], sort=True)
    out = groups[values].mean()
    out.insert(0, "n_clips", groups.size())
    return out.reset_index().rename(columns={"method": "cell"})


def read_curves(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate several ``per_alpha.csv`` files into one curves frame."""
    frames = [pd.read_csv(p) for p in paths]
    if not frames:
        raise TadaError("no per-alpha curves given")
    return pd.concat(frames, ignore_index=True)
