"""The default run's model card meets the mini model's targets (after `make run`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CARD = Path(__file__).resolve().parents[1] / "results" / "mini" / "model_card.json"


@pytest.mark.slow
@pytest.mark.skipif(not CARD.is_file(), reason=f"needs the default run's {CARD.name} (make run)")
def test_model_card_meets_targets() -> None:
    card = json.loads(CARD.read_text())
    assert card["generations"] >= 32 * 4  # >= 32 held-out generations per attribute value
    assert all(v >= 0.90 for v in card["accuracy"]["generated"].values()), card["accuracy"]
    assert all(v >= 0.97 for v in card["accuracy"]["real"].values()), card["accuracy"]
    assert card["deterministic"]
    # the two trainings run side by side, one core each: their wall time is the longer of the two
    assert max(card["train_seconds"], card["scorer_train_seconds"]) <= 600
    assert card["semantic_sites"] == [f"tf{b}" for b in json.loads((CARD.parent / "model" / "config.json").read_text())["semantic_blocks"]]
