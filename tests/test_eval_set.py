"""Balanced evaluation sets: half of a sweep's clips on each pole of the concept at alpha 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tada.errors import ConfigError
from tada.metrics.alignment import AlignmentMetric
from tada.metrics.base import Clip
from tada.protocol.eval_set import check_balance, choose_balanced, score_pool
from tada.scoring.base import AudioTextScorer
from tada.steering.methods import make_controller
from tada.steering.profiles import MiniProfile, profile
from tada.steering.sweep import read_eval_set, run_sweep
from tada.testing.tiny import tiny_mini_world


def pool_of(alignments: list[list[float]]) -> pd.DataFrame:
    """A scored pool: ``alignments[prompt][seed]``."""
    rows = [(f"prompt {i}", s, i, a) for i, seeds in enumerate(alignments) for s, a in enumerate(seeds)]
    return pd.DataFrame(rows, columns=["prompt", "seed", "pool_prompt", "alignment"])


def test_half_of_the_set_on_each_pole_in_pool_order_one_clip_per_prompt() -> None:
    pool = pool_of([[-3, 2], [-1, -2], [4, -5], [-6, -7], [1, 3], [-2, 8]])
    chosen = choose_balanced(pool, 4)
    assert chosen[["pool_prompt", "seed"]].values.tolist() == [[0, 0], [1, 0], [2, 0], [4, 0]]
    assert chosen["pole"].tolist() == ["negative", "negative", "positive", "positive"]
    odd = choose_balanced(pool, 3)  # the positive pole gets the extra clip
    assert odd["pole"].value_counts().to_dict() == {"positive": 2, "negative": 1}


def test_a_short_pole_is_filled_from_the_other() -> None:
    pool = pool_of([[-3, -2], [-1, -2], [5, -5], [-6, -7]])
    chosen = choose_balanced(pool, 4)
    assert chosen["pool_prompt"].tolist() == [0, 1, 2, 3]
    assert chosen["pole"].value_counts().to_dict() == {"negative": 3, "positive": 1}
    with pytest.raises(ConfigError, match="distinct pool prompts"):
        choose_balanced(pool, 5)


class LoudnessScorer(AudioTextScorer):
    """Audio embedding: the unit vector of the energies of each clip's two halves; "violin" is the first
    half, "trumpet" the second."""

    sample_rate = 8000
    logit_scale = 10.0

    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        halves = np.array_split(np.asarray(waveforms, dtype=np.float32), 2, axis=-1)
        energy = torch.tensor(np.stack([np.square(h).mean(-1) for h in halves], axis=-1))
        return torch.nn.functional.normalize(energy, dim=-1)

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([[1.0, 0.0] if t == "violin" else [0.0, 1.0] for t in texts])

    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        return [self.embed_audio(waveforms, sample_rate)]


def test_the_sweep_of_a_set_steers_the_clips_it_chose(tmp_path) -> None:
    adapter, scorer = tiny_mini_world(), LoudnessScorer()
    prompts = MiniProfile("mini").eval_prompts("violin", 6)
    pool = score_pool(adapter, scorer, "violin", ["trumpet"], prompts, range(3), batch_size=5)
    assert len(pool) == 18 and pool["alignment"].std() > 0
    chosen = choose_balanced(pool, 4)
    chosen.to_csv(tmp_path / "eval_set.csv", index=False)
    set_prompts, seeds = read_eval_set(tmp_path / "eval_set.csv")
    controller = make_controller("textemb", profile("mini").concept("violin"), "all")
    manifest = run_sweep(adapter, controller, set_prompts, seeds, [0, 1], tmp_path / "sweep", "textemb_all", progress=False, per_prompt_seeds=True)
    assert len(manifest) == 8
    base = manifest[manifest["alpha"] == 0].sort_values("prompt_id")
    assert base["seed"].tolist() == seeds
    clips = [Clip.load(tmp_path / "sweep" / path) for path in base["path"]]  # 16-bit WAVs of the pool's clips
    scored = AlignmentMetric(scorer, "violin", "a", contrast=["trumpet"]).compute(clips, clips)["a"]
    np.testing.assert_allclose(scored, chosen["alignment"], atol=0.05)
    with pytest.raises(ConfigError, match="one each"):
        run_sweep(adapter, controller, set_prompts, seeds[:2], [0], tmp_path / "bad", "textemb_all", progress=False, per_prompt_seeds=True)


def test_bad_eval_set_files_and_settings_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_eval_set(tmp_path / "missing.csv")
    (tmp_path / "set.csv").write_text("prompt,pole\na track,positive\n")
    with pytest.raises(ConfigError, match="seed"):
        read_eval_set(tmp_path / "set.csv")
    mini = MiniProfile("mini")
    with pytest.raises(ConfigError, match="pool_prompts"):
        check_balance(mini, ["high"], 8, 4)
    with pytest.raises(ConfigError, match="noise"):
        check_balance(mini, ["high"], 8, 32, noise="reference")

    class NoContrast(MiniProfile):
        def contrast(self, concept: str) -> list[str]:
            return []

    with pytest.raises(ConfigError, match="no poles"):
        check_balance(NoContrast("mini"), ["high"], 8, 32)
    check_balance(mini, ["violin", "fast", "happy", "high"], 8, 32)
