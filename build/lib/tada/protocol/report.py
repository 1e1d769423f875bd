"""Protocol tables and plots of sweeps, from their ``per_alpha.csv`` curves (LPAPS preservation)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tada.errors import TadaError
from tada.protocol.aggregate import read_curves
from tada.protocol.formats import write_table
from tada.protocol.plots import plot_alignment, plot_gain_auc
from tada.protocol.tables import concept_cutoffs, protocol_table

#: alignment columns a per-alpha file may hold, in table order
ALIGNMENT_COLUMNS: tuple[str, ...] = ("muqt", "clap", "mini")
PRESERVATION = "lpaps"


def alignment_columns(curves: pd.DataFrame) -> list[str]:
    """The alignment metrics present in ``curves``."""
    found = [c for c in ALIGNMENT_COLUMNS if c in curves.columns]
    if not found:
        raise TadaError(f"no alignment column ({', '.join(ALIGNMENT_COLUMNS)}) in {list(curves.columns)}")
    return found


def cell_report(paths: Iterable[str | Path], concept: str, cell: str, stem: str | Path) -> pd.DataFrame:
    """Write the table row of one (concept, cell) to ``<stem>.csv`` and ``.md``.

    ``paths`` hold that cell's curve and, when available, the reference (PCI) cells of the same
    concept, which set the cut-offs; without them the cell's own range is used.
    """
    curves = read_curves(paths)
    curves = curves[curves["concept"] == concept]
    table = protocol_table(curves, PRESERVATION, alignment_columns(curves))
    row = table[(table["concept"] == concept) & (table["cell"] == cell)].reset_index(drop=True)
    if row.empty:
        raise TadaError(f"no curve for concept '{concept}', cell '{cell}' in the given per-alpha files")
    cutoffs = concept_cutoffs(curves, PRESERVATION)
    write_table(row, stem, cutoffs, f"Protocol — {concept}, {cell}", formats=("csv", "md"))
    return row


def arch_report(
    paths: Iterable[str | Path], stem: str | Path, alignment_png: str | Path, gain_png: str | Path, title: str
) -> pd.DataFrame:
    """Write the table of all curves (``<stem>.csv/.md/.tex``) and the two figures."""
    curves = read_curves(paths)
    alignment = alignment_columns(curves)
    table = protocol_table(curves, PRESERVATION, alignment)
    cutoffs = concept_cutoffs(curves, PRESERVATION)
    write_table(table, stem, cutoffs, title)
    plot_alignment(curves, PRESERVATION, alignment, alignment_png)
    plot_gain_auc(curves, PRESERVATION, alignment, cutoffs, gain_png)
    return table
