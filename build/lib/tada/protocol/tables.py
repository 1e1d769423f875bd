"""Protocol tables: AUC, smoothness and quality per (concept, cell), and their averages.

Input is a long per-alpha frame ``curves`` with columns ``concept, cell, alpha``, one
preservation column (``lpaps`` or a MIR axis), alignment columns (``muqt``, ``clap``, ...) and
optionally the four Audiobox Aesthetics columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tada.errors import TadaError
from tada.metrics.aesthetics import AXES
from tada.protocol import curves as cv

AESTHETICS: tuple[str, ...] = tuple(AXES.values())
#: the cells whose maximum preservation sets the cut-off (PCI all / localized)
REFERENCE_CELLS: tuple[str, ...] = ("pci_all", "pci_loc")
#: the ``concept`` of the rows averaged over concepts
AVERAGE = "average"
SIGN_NAMES = {1: "pos", -1: "neg"}


def _check(curves: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in ("concept", "cell", "alpha", *columns) if c not in curves.columns]
    if missing:
        raise TadaError(f"per-alpha curves lack column(s) {missing}; they have {list(curves.columns)}")


def concept_cutoffs(
    curves: pd.DataFrame, preservation: str = "lpaps", reference_cells: Sequence[str] = REFERENCE_CELLS
) -> pd.DataFrame:
    """Cut-offs ``c_d`` per concept: columns ``pos``, ``neg``, indexed by concept.

    ``c_d`` is the smallest maximum preservation reached in direction ``d`` by the reference
    cells of that concept; a concept without any reference cell uses all its cells instead.
    """
    _check(curves, [preservation])
    rows = {}
    for concept, group in curves.groupby("concept", sort=False):
        ref = group[group["cell"].isin(reference_cells)]
        ref = group if ref.empty else ref
        pairs = [(g["alpha"].to_numpy(), g[preservation].to_numpy()) for _, g in ref.groupby("cell", sort=False)]
        rows[concept] = {SIGN_NAMES[s]: cv.cutoff(pairs, s) for s in cv.DIRECTIONS}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["pos", "neg"])


def cell_scores(
    curve: pd.DataFrame,
    cutoffs: dict[str, float],
    preservation: str = "lpaps",
    alignment: Sequence[str] = ("muqt", "clap"),
    n_quality: int = cv.QUALITY_POINTS,
) -> dict[str, float]:
    """AUC and CSM per alignment metric (mean of both directions) and quality of one curve.

    CSM is undefined (NaN) when either direction is; quality is the mean over the aesthetic
    columns present of the mean over directions, NaN without aesthetic columns.
    """
    alpha, pres = curve["alpha"].to_numpy(), curve[preservation].to_numpy()
    cuts = {s: cutoffs[SIGN_NAMES[s]] for s in cv.DIRECTIONS}
    out: dict[str, float] = {}
    for m in alignment:
        score = curve[m].to_numpy()
        out[f"auc_{m}"] = float(np.mean([cv.auc(alpha, pres, score, s, cuts[s]) for s in cv.DIRECTIONS]))
    for m in alignment:
        score = curve[m].to_numpy()
        out[f"csm_{m}"] = float(np.mean([cv.csm(alpha, pres, score, s, cuts[s]) for s in cv.DIRECTIONS]))
    per_score = [
        cv.nanmean([cv.quality(alpha, pres, curve[a].to_numpy(), s, cuts[s], n_quality) for s in cv.DIRECTIONS])
        for a in AESTHETICS
        if a in curve.columns
    ]
    out["quality"] = cv.nanmean(per_score)
    return out


def protocol_table(
    curves: pd.DataFrame,
    preservation: str = "lpaps",
    alignment: Sequence[str] = ("muqt", "clap"),
    reference_cells: Sequence[str] = REFERENCE_CELLS,
    n_quality: int = cv.QUALITY_POINTS,
) -> pd.DataFrame:
    """One row per (concept, cell) in input order, then one ``average`` row per cell.

    Columns ``concept, cell, auc_<m>..., csm_<m>..., quality``. The average is the mean over
    the concepts where the value is defined.
    """
    _check(curves, [preservation, *alignment])
    cutoffs = concept_cutoffs(curves, preservation, reference_cells)
    rows = [
        {"concept": concept, "cell": cell}
        | cell_scores(g, cutoffs.loc[concept].to_dict(), preservation, alignment, n_quality)
        for (concept, cell), g in curves.groupby(["concept", "cell"], sort=False)
    ]
    table = pd.DataFrame(rows)
    cells = list(dict.fromkeys(table["cell"]))
    average = table.drop(columns="concept").groupby("cell", sort=False).mean().reindex(cells).reset_index()
    average.insert(0, "concept", AVERAGE)
    return pd.concat([table, average], ignore_index=True)
