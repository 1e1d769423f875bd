"""The outputs of a localization: impact table, figures, localized presets and a summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tada.errors import ConfigError, unknown_name
from tada.localization.impact import bottleneck, impact_table, layer_impact, write_preset
from tada.localization.plots import heatmaps, impact_bars, impact_matrix
from tada.localization.studies import study


def read_scores(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Per-clip scores of many cells, concatenated."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def found_sets(impact: pd.DataFrame, tau: float, groups: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The bottleneck over all features (``all``), per group and per feature."""
    found = {"all": bottleneck(layer_impact(impact).loc["all"], tau)}
    if groups:
        by_group = layer_impact(impact, groups)
        found |= {g: bottleneck(row, tau) for g, row in by_group.iterrows()}
    by_feature = impact_matrix(impact)
    return found | {f: bottleneck(row, tau) for f, row in by_feature.iterrows()}


def summary(
    arch: str,
    impact: pd.DataFrame,
    tau: float,
    settings: Mapping[str, object],
    groups: Mapping[str, str] | None = None,
    truth: Sequence[str] | None = None,
    truth_label: str = "ground truth",
) -> str:
    """Markdown: I(l) per site (and per group), and the found sets against ``truth``."""
    overall = layer_impact(impact).loc["all"]
    table = pd.DataFrame({"I(l)": overall})
    if groups:
        table = table.join(layer_impact(impact, groups).T)
    found = found_sets(impact, tau, groups)
    lines = [
        f"# Localization of {arch}",
        "",
        ", ".join(f"{k}: {v}" for k, v in settings.items()) + f", tau: {tau:g}",
        "",
        "## Impact per site (mean over features)",
        "",
        table.round(3).rename_axis("site").to_markdown(),
        "",
        "## Found sets (sites with impact >= tau)",
        "",
    ]
    rows = [("all features", found["all"])]
    rows += [(f"family {g}", found[g]) for g in dict.fromkeys((groups or {}).values())]
    rows += [(f"feature {f}", found[f]) for f in dict.fromkeys(impact.feature)]
    header = f"| set | found | {truth_label} | match |" if truth is not None else "| set | found |"
    lines += [header, "|---|---|---|---|" if truth is not None else "|---|---|"]
    for name, sites in rows:
        cells = [name, " ".join(sites) or "-"]
        if truth is not None:
            cells += [" ".join(truth), "yes" if set(sites) == set(truth) else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    undefined = sorted(set(impact.feature[impact.impact.isna()]))
    if undefined:
        lines += [
            "",
            "Impact undefined (intervening on all sites did not move the score from none in the expected "
            f"direction): {', '.join(undefined)}.",
        ]
    base = impact.groupby("feature", sort=False)[["score_none", "score_all"]].first().round(3)
    lines += ["", "## Scores of the baselines", "", base.to_markdown(), ""]
    return "\n".join(lines)


def write_report(
    arch: str,
    scores: pd.DataFrame,
    sites: Sequence[str],
    tau: float,
    out: Mapping[str, str | Path],
    settings: Mapping[str, object],
    truth: Sequence[str] | None = None,
    truth_label: str = "ground truth",
    sign: int = 1,
) -> pd.DataFrame:
    """Write ``out['impact']`` (csv), ``heatmap_png``, ``heatmap_pdf``, ``bars``, ``preset`` and
    ``summary`` (those given); returns the impact table (``sign`` as in :func:`impact_table`)."""
    impact = impact_table(scores, sites, sign)
    groups = study(arch).families(list(dict.fromkeys(impact.feature)))
    if groups:
        impact.insert(1, "family", impact.feature.map(groups))
    overall = layer_impact(impact).loc["all"]
    if "impact" in out:
        impact.to_csv(out["impact"], index=False)
    heat = [out[k] for k in ("heatmap_png", "heatmap_pdf") if k in out]
    if heat:
        heatmaps({f"{arch}: I(l, c)": impact_matrix(impact)}, heat, title=f"tau = {tau:g}")
    if "bars" in out:
        impact_bars(overall, tau, out["bars"], title=f"{arch}: I(l)")
    if "preset" in out:
        write_preset(out["preset"], bottleneck(overall, tau), tau, overall)
    if "summary" in out:
        Path(out["summary"]).write_text(summary(arch, impact, tau, settings, groups, truth, truth_label))
    return impact


def write_family_preset(impact: pd.DataFrame, family: str, tau: float, path: str | Path) -> list[str]:
    """The bottleneck of one attribute family (mini world; the table's ``family`` column) as a preset."""
    if "family" not in impact.columns:
        raise ConfigError("this impact table has no attribute families (only the mini world has them)")
    by_family = layer_impact(impact, dict(zip(impact.feature, impact.family, strict=True)))
    if family not in by_family.index:
        raise unknown_name("attribute family", family, by_family.index)
    sites = bottleneck(by_family.loc[family], tau)
    write_preset(path, sites, tau, by_family.loc[family])
    return sites
