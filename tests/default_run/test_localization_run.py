"""The default run's localization recovers the mini model's trained ground truth (its impact table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tada.localization.impact import bottleneck, layer_impact
from tada.localization.layout import mini_truth

RESULTS = Path(__file__).resolve().parents[2] / "results"

TAU = 0.10


def check_impact(impact: pd.DataFrame, truth: list[str]) -> None:
    """I(l) of the ground-truth blocks is large, of every other block below tau, overall and per family."""
    overall = layer_impact(impact).loc["all"]
    assert bottleneck(overall, TAU) == truth, overall.round(3).to_dict()
    assert all(overall[s] >= 0.3 for s in truth), overall.round(3).to_dict()
    assert all(overall[s] < TAU for s in overall.index if s not in truth), overall.round(3).to_dict()
    by_family = layer_impact(impact, dict(zip(impact.feature, impact.family, strict=True)))
    assert set(by_family.index) == {"instrument", "tempo", "register", "mood"}
    for family, row in by_family.iterrows():
        assert bottleneck(row, TAU) == truth, (family, row.round(3).to_dict())


def test_default_run_localizes_its_semantic_blocks(run_result) -> None:
    impact = pd.read_csv(run_result("localization/mini/impact.csv"))
    check_impact(impact, mini_truth(run_result("mini/model/config.json")))


def test_another_ground_truth_localizes_to_it() -> None:
    """The optional experiment of the README (config/experiments/ground_truth_tf3.yaml): not in `make run`."""
    root = RESULTS / "ground_truth_tf3"
    if not (root / "localization" / "mini" / "impact.csv").is_file():
        pytest.skip("optional experiment not run (README: ground_truth_tf3); not a result of `make run`")
    truth = mini_truth(root / "mini" / "model" / "config.json")
    assert truth == ["tf3"]
    check_impact(pd.read_csv(root / "localization" / "mini" / "impact.csv"), truth)
