"""The paper's central steering claims, tested on one architecture's protocol table beside the published one.

Both tables are averaged over concepts (rows ``concept == "average"``) and compared by ordering, never by
value: the scorers differ (the mini scorer's logits vs CLAP / MuQ-MuLan cosines). A paradigm family is
represented by its best cell (highest AUC; for smoothness, lowest CSM); controls (``random``, ``ablated``)
belong to no family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from tada.protocol.tables import AVERAGE

#: steering paradigm -> its methods (the paper compares activation steering with the other three)
FAMILIES: dict[str, tuple[str, ...]] = {
    "activation": ("caa", "austeer", "sae"),
    "prompt": ("pci", "textemb", "tokemb"),
    "score": ("freesliders",),
    "weight": ("sliders",),
}
#: published cell -> our cell (the reference names Concept Sliders ``cs`` and its localized SAE ``sae``)
PUBLISHED_CELLS: dict[str, str] = {"cs_all": "sliders_all", "cs_loc": "sliders_loc", "sae": "sae_loc"}
#: arms that are controls, not a way of steering
CONTROL_ARMS: tuple[str, ...] = ("random", "ablated")
#: two AUCs closer than this (relative to the larger) are a tie: shown as such, and not "beaten" either way
TIE_RELATIVE = 0.01
#: alignment column suffix -> the name a reader knows
METRIC_NAMES: dict[str, str] = {"muqt": "MuQ", "clap": "CLAP", "mini": "mini scorer"}


@dataclass(frozen=True)
class Verdict:
    """Whether one claim holds in one table for one alignment metric, and the numbers that decide it."""

    holds: bool | None  # None: the table lacks the cells the claim needs
    evidence: str


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the test that decides it on an averaged table."""

    key: str
    statement: str
    test: Callable[[pd.DataFrame, str], Verdict]


def _split(cell: str) -> tuple[str, str]:
    method, _, arm = cell.rpartition("_")
    return (method, arm) if method else (cell, "")


def averages(table: pd.DataFrame, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """The concept-averaged rows of a protocol table, indexed by our cell names."""
    rows = table[table["concept"] == AVERAGE]
    if rows.empty:
        rows = table.groupby("cell", as_index=False).mean(numeric_only=True)
    return rows.assign(cell=rows["cell"].replace(rename or {})).set_index("cell")


def alignment_metrics(table: pd.DataFrame) -> list[str]:
    """The alignment metrics a table has both AUC and CSM for (``auc_clap`` + ``csm_clap`` -> ``clap``)."""
    return [c[4:] for c in table.columns if c.startswith("auc_") and f"csm_{c[4:]}" in table.columns]


def family_cells(avg: pd.DataFrame, family: str, arm: str | None = None) -> list[str]:
    """The family's steering cells in the table (one arm, or every arm but the controls)."""
    cells = []
    for cell in avg.index:
        method, cell_arm = _split(cell)
        if method in FAMILIES[family] and cell_arm not in CONTROL_ARMS and (arm is None or cell_arm == arm):
            cells.append(cell)
    return cells


def _best(avg: pd.DataFrame, cells: Sequence[str], column: str, lowest: bool = False) -> tuple[str, float] | None:
    values = avg.loc[list(cells), column].dropna() if cells else pd.Series(dtype=float)
    if values.empty:
        return None
    cell = values.idxmin() if lowest else values.idxmax()
    return cell, float(values[cell])


def _beats_other_families(avg: pd.DataFrame, metric: str, kind: str) -> Verdict:
    lowest = kind == "csm"
    column = f"{kind}_{metric}"
    ours = _best(avg, family_cells(avg, "activation", "loc"), column, lowest)
    rivals = {f: _best(avg, family_cells(avg, f), column, lowest) for f in FAMILIES if f != "activation"}
    rivals = {f: r for f, r in rivals.items() if r is not None}
    if ours is None or not rivals:
        return Verdict(None, "cells missing")
    better = (lambda a, b: a < b) if lowest else (lambda a, b: a > b)
    holds = bool(all(better(ours[1], value) for _, value in rivals.values()))
    parts = [f"{ours[0]} {ours[1]:.3g}"] + [f"{f}: {cell} {value:.3g}" for f, (cell, value) in rivals.items()]
    return Verdict(holds, "; ".join(parts))


def _pairwise(avg: pd.DataFrame, metric: str, other_arm: str, methods: Sequence[str]) -> Verdict:
    column = f"auc_{metric}"
    pairs = [(m, f"{m}_loc", f"{m}_{other_arm}") for m in methods]
    pairs = [(m, loc, other) for m, loc, other in pairs if loc in avg.index and other in avg.index]
    if not pairs:
        return Verdict(None, "cells missing")
    holds, parts = True, []
    for m, loc, other in pairs:
        a, b = float(avg.at[loc, column]), float(avg.at[other, column])
        tie = abs(a - b) <= TIE_RELATIVE * max(abs(a), abs(b))
        holds &= a > b and not tie
        parts.append(f"{m}: {a:.3g} vs {b:.3g}" + (" (a tie)" if tie else ""))
    return Verdict(holds, "; ".join(parts))


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "auc",
        "Localized activation steering reaches a higher AUC than prompt-level, score-space and weight-space "
        "steering (best localized CAA / AUSteer / SAE cell vs each family's best cell).",
        lambda avg, m: _beats_other_families(avg, m, "auc"),
    ),
    Claim(
        "smoothness",
        "Localized activation steering is smoother (lower CSM) than prompt-level, score-space and weight-space "
        "steering (each family's smoothest cell).",
        lambda avg, m: _beats_other_families(avg, m, "csm"),
    ),
    Claim(
        "localization",
        "Steering activations at the localized layers beats steering every layer (AUC, `loc` vs `all`, for "
        "each activation method with both arms).",
        lambda avg, m: _pairwise(avg, m, "all", FAMILIES["activation"]),
    ),
    Claim(
        "random_control",
        "A concept direction beats a random direction of the same norm at the same sites (AUC, `loc` vs "
        "`random`; not part of the published benchmark).",
        lambda avg, m: _pairwise(avg, m, "random", FAMILIES["activation"]),
    ),
)


def claim_verdicts(ours: pd.DataFrame, published: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (claim, source, metric): ``holds`` (True / False / None) and the numbers behind it."""
    tables = {"ours": averages(ours)}
    if published is not None:
        tables["published"] = averages(published, PUBLISHED_CELLS)
    rows = []
    for claim in CLAIMS:
        for source, avg in tables.items():
            for metric in alignment_metrics(avg):
                verdict = claim.test(avg, metric)
                rows.append({"claim": claim.key, "source": source, "metric": metric, **verdict.__dict__})
    return pd.DataFrame(rows, columns=["claim", "source", "metric", "holds", "evidence"])


def agreement(verdicts: pd.DataFrame, claim: str) -> str:
    """``agrees`` / ``disagrees`` / ``partly`` / ``untested``: do our verdicts match the published ones?"""
    rows = verdicts[verdicts["claim"] == claim]
    ours = {v for v in rows[rows["source"] == "ours"]["holds"] if v is not None}
    theirs = {v for v in rows[rows["source"] == "published"]["holds"] if v is not None}
    if not ours:
        return "untested"
    if not theirs:
        return "holds" if ours == {True} else "does not hold" if ours == {False} else "mixed"
    if len(ours) > 1 or len(theirs) > 1:
        return "partly"
    return "agrees" if ours == theirs else "disagrees"


def _mark(holds: bool | None) -> str:
    return {True: "yes", False: "no", None: "-"}[holds]


def claims_markdown(arch: str, verdicts: pd.DataFrame) -> str:
    """The claims page: per claim, the verdict in each table, the numbers, and a plain summary."""
    has_published = (verdicts["source"] == "published").any()
    lines = [
        f"# The paper's steering claims on `{arch}`",
        "",
        "Each claim is tested on the concept-averaged protocol table of this run"
        + (" and on the published ACE-Step table (`results/published/tables_lpaps.csv`)." if has_published else ".")
        + " Tables are compared by ordering, not by value: their scorers differ. A family is represented by its "
        "best cell; `random` and `ablated` arms are controls and belong to no family. Two AUCs within "
        f"{TIE_RELATIVE:.0%} of each other are marked a tie, and a tie does not beat.",
        "",
        "| Claim | Source | Metric | Holds | Numbers (AUC or CSM, averaged over concepts) |",
        "|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        for row in verdicts[verdicts["claim"] == claim.key].itertuples():
            label = "this run" if row.source == "ours" else "published"
            metric = METRIC_NAMES.get(row.metric, row.metric)
            lines.append(f"| `{claim.key}` | {label} | {metric} | {_mark(row.holds)} | {row.evidence} |")
    lines += ["", "## Plainly", ""]
    lines += [f"- **{claim.key}**: {claim.statement} {_plainly(arch, verdicts, claim.key)}" for claim in CLAIMS]
    return "\n".join(lines) + "\n"


def _plainly(arch: str, verdicts: pd.DataFrame, claim: str) -> str:
    rows = verdicts[verdicts["claim"] == claim]
    ours = " / ".join(_mark(v) for v in rows[rows["source"] == "ours"]["holds"])
    theirs = " / ".join(_mark(v) for v in rows[rows["source"] == "published"]["holds"])
    return {
        "agrees": f"`{arch}` agrees with the paper (published: {theirs}; this run: {ours}).",
        "disagrees": f"`{arch}` does **not** agree with the paper (published: {theirs}; this run: {ours}).",
        "partly": f"`{arch}` agrees only in part (published: {theirs}; this run: {ours}).",
        "holds": f"Holds on `{arch}` (no published counterpart).",
        "does not hold": f"Does **not** hold on `{arch}` (no published counterpart).",
        "mixed": f"Mixed on `{arch}` ({ours}; no published counterpart).",
        "untested": f"Not tested: the table lacks the cells (this run: {ours or '-'}).",
    }[agreement(verdicts, claim)]


def write_claims(arch: str, ours: pd.DataFrame, published: pd.DataFrame | None, csv: str, md: str) -> pd.DataFrame:
    """Test the claims, write ``csv`` (one row per claim, source and metric) and the page ``md``."""
    verdicts = claim_verdicts(ours, published)
    verdicts.to_csv(csv, index=False)
    with open(md, "w") as f:
        f.write(claims_markdown(arch, verdicts))
    return verdicts
