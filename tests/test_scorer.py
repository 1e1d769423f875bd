"""The mini scorer: trained briefly on a small fixed set, it recognises held-out real clips."""

from __future__ import annotations

import numpy as np
import pytest

from tada.scoring.mini import MiniScorer
from tada.training.recognition import accuracy, recognise
from tada.training.scorer import ScorerTrainConfig, train_scorer
from tada.world.dataset import make_clips


@pytest.fixture(scope="module")
def scorer() -> MiniScorer:
    model, stats = train_scorer(make_clips(600, seed=0), make_clips(80, seed=1), ScorerTrainConfig(train_steps=150, eval_every=50))
    assert stats["scorer_valid_accuracy"] > 0.7
    return model


def test_recognises_held_out_clips(scorer) -> None:
    test = make_clips(120, seed=7)
    acc = accuracy(recognise(scorer, test.waves, test.sample_rate), test.attributes)
    # a few seconds of training: timbre and pitch are learnt first, tempo next, mood last
    # (the full scorer's accuracy on every family is in results/mini/model_card.md)
    assert acc["instrument"] >= 0.9 and acc["register"] >= 0.9 and acc["tempo"] >= 0.7, acc


def test_scorer_interface(scorer, tmp_path) -> None:
    clips = make_clips(4, seed=3)
    stages = scorer.audio_stages(clips.waves, clips.sample_rate)
    assert len(stages) == 4 and all(s.shape[0] == 4 for s in stages)
    emb = scorer.embed_audio(clips.waves, clips.sample_rate)
    assert np.allclose(emb.norm(dim=-1).numpy(), 1, atol=1e-5)
    scorer.model.save_pretrained(tmp_path / "s")
    again = MiniScorer.from_pretrained(tmp_path / "s")
    assert np.allclose(again.similarity(clips.waves, 8000, ["violin"]), scorer.similarity(clips.waves, 8000, ["violin"]))
    # resampled input is accepted
    assert scorer.embed_audio(clips.waves[:, ::2], 4000).shape == emb.shape
