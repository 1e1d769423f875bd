"""Figures of a localization: impact heatmaps (features x layers) and the bar plot of I(l)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def impact_matrix(impact: pd.DataFrame) -> pd.DataFrame:
    """Features x sites of an impact table (columns feature, site, impact), in the table's order."""
    matrix = impact.pivot(index="feature", columns="site", values="impact")
    return matrix.loc[list(dict.fromkeys(impact.feature)), list(dict.fromkeys(impact.site))]


def heatmaps(panels: Mapping[str, pd.DataFrame], paths: Sequence[str | Path], title: str = "") -> None:
    """One heatmap per panel (features x sites, impact in [0, 1]; undefined cells grey), stacked."""
    width = max(4.0, 0.3 * max(m.shape[1] for m in panels.values()) + 2.5)
    heights = [0.3 * m.shape[0] + 1.4 for m in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, sum(heights) + 0.5), squeeze=False,
                             gridspec_kw={"height_ratios": heights})  # fmt: skip
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    for ax, (name, m) in zip(axes[:, 0], panels.items(), strict=True):
        image = ax.imshow(np.ma.masked_invalid(m.to_numpy(dtype=float)), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(m.shape[1]), m.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(m.shape[0]), m.index, fontsize=7)
        ax.set_title(name, fontsize=9)
        fig.colorbar(image, ax=ax, label="I(l, c)", fraction=0.04, pad=0.02)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def impact_bars(impact_by_site: pd.Series, tau: float, path: str | Path, title: str = "") -> None:
    """Bar plot of I(l) with the threshold; bars at or above it are highlighted."""
    values = impact_by_site.fillna(0.0)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * len(values) + 1.5), 3))
    ax.bar(range(len(values)), values, color=["C3" if v >= tau else "C0" for v in values])
    ax.axhline(tau, color="k", linestyle="--", linewidth=0.8, label=f"tau = {tau:g}")
    ax.set_xticks(range(len(values)), values.index, rotation=90, fontsize=7)
    ax.set_ylabel("I(l): mean impact over features")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def published_panels(table: pd.DataFrame, model: str) -> dict[str, pd.DataFrame]:
    """Per metric, the published impact of ``model`` as features x sites (AudioLDM2 sites get their
    ``attnN`` suffix, as in our site names)."""
    rows = table[table.model == model]
    if rows.empty:
        raise KeyError(f"no published impact for model '{model}' (models: {', '.join(table.model.unique())})")
    site = rows.block + np.where(rows.model == "audioldm2", "attn" + rows.attn.astype(str), "")
    rows = rows.assign(site=site, feature=rows.concept)
    return {metric: impact_matrix(group) for metric, group in rows.groupby("metric", sort=False)}
