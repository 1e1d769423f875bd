"""The default run's model card meets the mini model's targets, and localization finds its ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tada.localization.layout import mini_truth
from tada.world.attributes import VALUE_FAMILY

ROOT = Path(__file__).resolve().parents[2]


def test_model_card_meets_targets(run_result) -> None:
    card = json.loads(run_result("mini/model_card.json").read_text())
    assert card["generations"] >= 32 * 4  # the accuracies below are over >= 32 held-out generations per value
    assert all(v >= 0.90 for v in card["accuracy"]["generated"].values()), card["accuracy"]
    assert all(v >= 0.97 for v in card["accuracy"]["real"].values()), card["accuracy"]
    assert card["deterministic"]


def test_localization_finds_the_trained_ground_truth(run_result) -> None:
    """The bottleneck found by patching (localized.yaml) is the set of blocks the model was trained to use."""
    truth = mini_truth(run_result("mini/model/config.json"))
    card = json.loads(run_result("mini/model_card.json").read_text())
    assert card["semantic_sites"] == truth  # the card documents the trained model's ground truth
    found = yaml.safe_load(run_result("localization/mini/localized.yaml").read_text())["sites"]
    assert sorted(found) == sorted(truth), (found, truth)
    features = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["localization"]["features"]
    for family in sorted({VALUE_FAMILY[f] for f in features}):  # localized_<family>.yaml of the default run
        found = yaml.safe_load(run_result(f"localization/mini/localized_{family}.yaml").read_text())["sites"]
        assert sorted(found) == sorted(truth), (family, found, truth)
