"""The default run's trained mini model and scorer, for the checks that steer them (``default_run``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "results"


def trained_mini() -> tuple[Any, Any]:
    """The trained mini adapter and its scorer; a missing one fails the check (they are `make run`'s)."""
    from tada.metrics.registry import load_scorer
    from tada.models import load_model

    model, scorer = RESULTS / "mini" / "model", RESULTS / "mini" / "scorer"
    if not (model / "config.json").is_file() or not (scorer / "config.json").is_file():
        pytest.fail("the trained mini model and scorer are missing (run `make run` first)")
    return load_model("mini", str(model)), load_scorer("mini", RESULTS)


def log_odds(adapter: Any, scorer: Any, prompts: Sequence[str], pairs: Sequence[tuple[str, str]], *controllers: Any) -> list[float]:
    """Mean scorer log-odds of each ``(text, counterpart)`` over ``prompts`` (seed 0 each), generated
    steered by ``controllers`` (one at alpha 0: unsteered)."""
    with adapter.steer(*controllers):
        waves = adapter.generate(list(prompts), [0] * len(prompts)).waveforms
    audio = scorer.embed_audio(waves.mean(1), adapter.sample_rate).float().numpy()
    out = []
    for pair in pairs:
        logits = scorer.logit_scale * audio @ scorer.embed_text(list(pair)).float().numpy().T
        out.append(float((logits[:, 0] - logits[:, 1]).mean()))
    return out
