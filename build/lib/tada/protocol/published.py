"""Rebuild the paper's AUC / smoothness / quality tables from the frozen per-alpha CSVs.

    python -m tada.protocol.published --axis lpaps --out results/published

writes ``tables_<axis>.csv``, ``.md`` and ``.tex`` for each axis. Quality is defined on the LPAPS
axis only (the aesthetic scores are read at LPAPS values), so MIR-axis tables leave it empty.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tada.errors import MissingCheckpointError, unknown_name
from tada.protocol.formats import write_table
from tada.protocol.reference_data import PUBLISHED_URL
from tada.protocol.tables import AESTHETICS, concept_cutoffs, protocol_table

#: a local copy of the frozen CSVs next to the repository (reference.published's default); where there is
#: none, ``python -m tada.protocol.reference_data DEST`` downloads them from the pinned upstream
DEFAULT_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tada-published"
ALIGNMENT = ("muqt", "clap")
STEERING_CSV = "steering_metrics.csv"
QUALITY_CSV = "quality_metrics.csv"


def _read(root: Path, name: str) -> pd.DataFrame:
    path = root / name
    if not path.is_file():
        raise MissingCheckpointError(
            f"frozen published metrics not found at '{path}'; pass the folder holding "
            f"{STEERING_CSV} and {QUALITY_CSV}, or download them first: "
            f"python -m tada.protocol.reference_data {root} (from {PUBLISHED_URL}, SHA-256-checked)"
        )
    return pd.read_csv(path)


def load_curves(root: str | Path = DEFAULT_ROOT, axis: str = "lpaps") -> pd.DataFrame:
    """Per-alpha curves ``concept, cell, alpha, <axis>, muqt, clap`` (+ aesthetics for ``lpaps``)."""
    root = Path(root)
    steering = _read(root, STEERING_CSV)
    axes = list(dict.fromkeys(steering["axis"]))
    if axis not in axes:
        raise unknown_name("preservation axis", axis, axes)
    curves = steering[steering["axis"] == axis].drop(columns="axis").rename(columns={"lpaps": axis})
    if axis != "lpaps":
        return curves.reset_index(drop=True)
    quality = _read(root, QUALITY_CSV)
    keys = ["cell", "concept", "alpha_key"]
    curves = curves.assign(alpha_key=curves["alpha"].round(6))
    quality = quality.assign(alpha_key=quality["alpha"].round(6))[[*keys, *AESTHETICS]]
    return curves.merge(quality, on=keys, how="left").drop(columns="alpha_key")


def published_table(root: str | Path = DEFAULT_ROOT, axis: str = "lpaps") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The protocol table of one axis and its per-concept cut-offs."""
    curves = load_curves(root, axis)
    return protocol_table(curves, axis, ALIGNMENT), concept_cutoffs(curves, axis)


def write_published(root: str | Path, axes: Sequence[str], out: str | Path) -> list[Path]:
    """Write ``<out>/tables_<axis>.{csv,md,tex}`` for each axis; returns the paths written."""
    paths = []
    for axis in axes:
        table, cutoffs = published_table(root, axis)
        title = f"Published TADA benchmark (ACE-Step) rebuilt — preservation: {axis}"
        paths += write_table(table, Path(out) / f"tables_{axis}", cutoffs, title)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--axis", nargs="+", default=["lpaps"], help="preservation axes (lpaps, harmony, ...)")
    parser.add_argument("--out", default="results/published", help="output folder")
    parser.add_argument("--root", default=str(DEFAULT_ROOT), help="folder of the frozen CSVs")
    args = parser.parse_args(argv)
    for path in write_published(args.root, args.axis, args.out):
        print(path)


if __name__ == "__main__":
    main()
