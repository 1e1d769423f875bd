"""Protocol figures: alignment against preservation, and the gain curves with their AUC area."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tada.protocol import curves as cv
from tada.protocol.formats import cell_label
from tada.protocol.tables import SIGN_NAMES


def _save(fig: Figure, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def plot_alignment(curves: pd.DataFrame, preservation: str, alignment: Sequence[str], path: str | Path) -> None:
    """Rows of alignment metrics, columns of concepts: alignment against preservation, a line
    per cell in sweep order."""
    concepts = list(dict.fromkeys(curves["concept"]))
    fig = Figure(figsize=(4.2 * len(concepts), 3.6 * len(alignment)), layout="constrained")
    axes = fig.subplots(len(alignment), len(concepts), squeeze=False)
    for row, metric in zip(axes, alignment, strict=True):
        for ax, concept in zip(row, concepts, strict=True):
            for cell, g in curves[curves["concept"] == concept].groupby("cell", sort=False):
                g = g.sort_values("alpha")
                ax.plot(g[preservation], g[metric], marker=".", label=cell_label(cell))
            ax.set(title=concept, xlabel=preservation, ylabel=metric)
    axes[0, -1].legend(fontsize="small", loc="best")
    _save(fig, path)


def plot_gain_auc(
    curves: pd.DataFrame, preservation: str, alignment: Sequence[str], cutoffs: pd.DataFrame, path: str | Path
) -> None:
    """Rows of concepts, columns of (alignment metric, direction): the gain against preservation
    per cell, the area AUC integrates shaded and the cut-off dashed."""
    concepts = list(dict.fromkeys(curves["concept"]))
    panels = [(metric, sign) for metric in alignment for sign in cv.DIRECTIONS]
    fig = Figure(figsize=(4.5 * len(panels), 3.4 * len(concepts)), layout="constrained")
    axes = fig.subplots(len(concepts), len(panels), squeeze=False)
    for row, concept in zip(axes, concepts, strict=True):
        for ax, (metric, sign) in zip(row, panels, strict=True):
            cut = cutoffs.at[concept, SIGN_NAMES[sign]]
            for cell, g in curves[curves["concept"] == concept].groupby("cell", sort=False):
                alpha, pres, score = (g[c].to_numpy() for c in ("alpha", preservation, metric))
                a, p, s = cv.truncated_curve(alpha, pres, score, sign, cut, boundary=True)
                gain = cv.delta(a, s, sign) if len(a) else s
                (line,) = ax.plot(p, gain, marker=".", label=cell_label(cell))
                ax.fill(np.r_[p, p[::-1]], np.r_[gain, np.zeros_like(gain)], color=line.get_color(), alpha=0.15)
            ax.axvline(cut, color="grey", linestyle="--", linewidth=1)
            ax.axhline(0, color="black", linewidth=0.5)
            ax.set(title=f"{concept}, {SIGN_NAMES[sign]}", xlabel=preservation, ylabel=f"Δ {metric}")
    axes[0, -1].legend(fontsize="small", loc="best")
    _save(fig, path)
