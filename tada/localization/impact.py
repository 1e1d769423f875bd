"""Scores of patched clips, layer impact and the semantic bottleneck.

``I(l, c) = max(0, (s(l) - s(none)) / (s(all) - s(none)))`` with ``s`` the mean alignment of a
preset's clips (over pairs and seeds) to the clean concept's text; ``I(l)`` is the mean over
concepts, and the layers with ``I(l) >= tau`` form the bottleneck, written as a preset file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tada.errors import ConfigError
from tada.models import scorer_of
from tada.models.base import Audio
from tada.scoring.base import AudioTextScorer

#: alignment text of a feature word, by scorer (the reference's CLAP wording; the mini scorer's words)
TEXT_TEMPLATES = {"clap": "This is a music of {}", "mini": "{}"}
#: effects ``s(all) - s(none)`` (signed by the expected direction) at or below this leave impact undefined
MIN_EFFECT = 1e-6


def concept_text(arch: str, feature: str) -> str:
    """The text a clip of ``feature`` is scored against with the arch's scorer."""
    return TEXT_TEMPLATES[scorer_of(arch)].format(feature)


def score_audio(scorer: AudioTextScorer, audio: Audio, texts: Sequence[str]) -> np.ndarray:
    """Alignment of clip ``i`` to ``texts[i]``."""
    return scorer.similarity(audio.mono(), audio.sample_rate, list(texts))


def preset_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean score per (feature, preset), with the number of clips."""
    grouped = scores.groupby(["feature", "preset"], sort=False)["score"]
    return grouped.agg(score="mean", clips="size").reset_index()


def impact_table(scores: pd.DataFrame, sites: Sequence[str], sign: int = 1) -> pd.DataFrame:
    """``I(l, c)`` for every feature and site from per-clip scores (columns feature, preset, score).

    ``sign`` is the direction ``all`` should move the score from ``none`` (+1 when patching the clean
    conditioning in, -1 for reverse patching and ablation); where it does not, impact is NaN.
    """
    means = preset_scores(scores).pivot(index="feature", columns="preset", values="score")
    missing = [p for p in ("none", "all", *sites) if p not in means.columns]
    if missing:
        raise ConfigError(f"scores lack preset(s) {', '.join(missing)}: impact needs none, all and every site")
    rows = []
    for feature, s in means.iterrows():
        effect = s["all"] - s["none"]
        for site in sites:
            value = max(0.0, (s[site] - s["none"]) / effect) if sign * effect > MIN_EFFECT else np.nan
            rows.append((feature, site, value, s[site], s["none"], s["all"]))
    return pd.DataFrame(rows, columns=["feature", "site", "impact", "score", "score_none", "score_all"])


def layer_impact(impact: pd.DataFrame, groups: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``I(l)``: mean impact over features, per site (columns) and, with ``groups`` (feature -> group),
    per group (rows); otherwise one row, ``all``. Sites keep the table's order."""
    sites = list(dict.fromkeys(impact.site))
    table = impact.assign(group=impact.feature.map(groups) if groups else "all")
    means = table.groupby(["group", "site"], sort=False).impact.mean().unstack("site")
    return means.loc[list(dict.fromkeys(table.group)), sites]


def bottleneck(impact_by_site: pd.Series, tau: float) -> list[str]:
    """Sites with ``I(l) >= tau``, in site order."""
    return [site for site, value in impact_by_site.items() if value >= tau]


def write_preset(path: str | Path, sites: Sequence[str], tau: float, impact_by_site: pd.Series) -> None:
    """A preset file ``SiteRegistry.resolve`` accepts, with the impacts it was chosen from."""
    data = {
        "sites": list(sites),
        "tau": float(tau),
        "impact": {str(k): round(float(v), 4) for k, v in impact_by_site.items() if not np.isnan(v)},
    }
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
