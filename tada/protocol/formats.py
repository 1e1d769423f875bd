"""Writing protocol tables as CSV, Markdown and a LaTeX tabular."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from tada.protocol.tables import AVERAGE

METHOD_LABELS = {
    "pci": "PCI",
    "textemb": "Text Embeddings",
    "tokemb": "Token Embeddings",
    "freesliders": "FreeSliders",
    "sliders": "Concept Sliders",
    "cs": "Concept Sliders",  # the published tables' name
    "austeer": "AUSteer",
    "caa": "CAA",
    "sae": "SAE",
}
ARM_SUFFIXES = {"all": "", "loc": " (loc.)", "random": " (random dir.)"}
#: published cells without an arm: the reference ran SAE at the localized sites only
BARE_CELL_LABELS = {"sae": "SAE (loc.)"}
METRIC_LABELS = {"muqt": "MuQ", "clap": "CLAP", "mini": "Mini"}


def cell_label(cell: str) -> str:
    """Readable name of a cell: ``caa_loc`` -> ``CAA (loc.)``, ``caa_random`` -> ``CAA (random dir.)``;
    unknown names are kept."""
    method, _, arm = cell.rpartition("_")
    if arm in ARM_SUFFIXES and method in METHOD_LABELS:
        return METHOD_LABELS[method] + ARM_SUFFIXES[arm]
    return BARE_CELL_LABELS.get(cell) or METHOD_LABELS.get(cell, cell)


def column_label(column: str) -> str:
    """``auc_muqt`` -> ``AUC MuQ``, ``csm_clap`` -> ``Smooth CLAP``, ``quality`` -> ``Quality``."""
    kind, _, metric = column.partition("_")
    if not metric:
        return column.capitalize()
    return f"{'AUC' if kind == 'auc' else 'Smooth'} {METRIC_LABELS.get(metric, metric)}"


def _fmt(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _value_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ("concept", "cell")]


def _blocks(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The ``average`` block first, then one block per concept in table order."""
    concepts = list(dict.fromkeys(table["concept"]))
    concepts = [AVERAGE] * (AVERAGE in concepts) + [c for c in concepts if c != AVERAGE]
    return [(c, table[table["concept"] == c]) for c in concepts]


def to_markdown(table: pd.DataFrame, cutoffs: pd.DataFrame | None = None, title: str = "Protocol tables") -> str:
    """One Markdown table per concept (averages first); undefined values print as ``-``."""
    values = _value_columns(table)
    head = "| Method | cell | " + " | ".join(column_label(c) for c in values) + " |"
    rule = "|---|---|" + "---:|" * len(values)
    lines = [f"# {title}", ""]
    for concept, block in _blocks(table):
        heading = "Averaged over concepts" if concept == AVERAGE else concept
        if cutoffs is not None and concept in cutoffs.index:
            heading += f" (cut-off pos={cutoffs.at[concept, 'pos']:.3f}, neg={cutoffs.at[concept, 'neg']:.3f})"
        lines += [f"## {heading}", "", head, rule]
        for _, row in block.iterrows():
            cells = [cell_label(row["cell"]), f"`{row['cell']}`", *(_fmt(row[c]) for c in values)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _tex(text: str) -> str:
    return text.replace("_", r"\_")


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs ``tabular`` with a block per concept (averages first)."""
    values = _value_columns(table)
    lines = [
        r"\begin{tabular}{ll" + "r" * len(values) + "}",
        r"\toprule",
        "Concept & Method & " + " & ".join(column_label(c) for c in values) + r" \\",
    ]
    for concept, block in _blocks(table):
        lines.append(r"\midrule")
        for i, (_, row) in enumerate(block.iterrows()):
            name = _tex(concept) if i == 0 else ""
            cells = [name, cell_label(row["cell"]), *(f"${_fmt(row[c])}$" for c in values)]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def write_table(
    table: pd.DataFrame,
    stem: str | Path,
    cutoffs: pd.DataFrame | None = None,
    title: str = "Protocol tables",
    formats: tuple[str, ...] = ("csv", "md", "tex"),
) -> list[Path]:
    """Write ``<stem>.csv`` (full precision, undefined left empty), ``.md`` and ``.tex``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    writers = {
        "csv": lambda p: table.to_csv(p, index=False),
        "md": lambda p: p.write_text(to_markdown(table, cutoffs, title) + "\n"),
        "tex": lambda p: p.write_text(to_latex(table)),
    }
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        writers[fmt](path)
        paths.append(path)
    return paths
