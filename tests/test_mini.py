"""The mini model: sites, deterministic sampling, save / load round trip in a new process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tada.errors import MissingCheckpointError
from tada.models import load_model
from tada.models.base import GenerationConfig

PROMPTS = ["a fast violin melody", "a slow flute melody in a low register"]


def test_sites_follow_reference_names(tiny_mini) -> None:
    reg = tiny_mini.registry()
    assert [s.name for s in reg.layers] == ["tf0", "tf1", "tf2"]
    assert reg.resolve("tf1k")[0].target == "transformer_blocks.1.attn2.to_k"
    assert [s.name for s in reg.resolve("tf0tf2")] == ["tf0", "tf2"]
    assert reg.resolve("tf1self")[0].module == "transformer_blocks.1.attn1"


def test_same_seed_same_audio_other_seed_other_audio(tiny_mini) -> None:
    a = tiny_mini.generate(PROMPTS, [0, 1])
    b = tiny_mini.generate(PROMPTS, [0, 1])
    c = tiny_mini.generate(PROMPTS, [0, 2])
    assert a.waveforms.shape == (2, 1, 8192) and a.sample_rate == 8000
    assert np.array_equal(a.waveforms, b.waveforms)
    assert np.array_equal(a.waveforms[0], c.waveforms[0]) and not np.allclose(a.waveforms[1], c.waveforms[1])


def test_text_changes_the_output(tiny_mini) -> None:
    cfg = GenerationConfig(steps=3, guidance_scale=3.0)
    a = tiny_mini.generate(["violin"], [0], cfg).waveforms
    b = tiny_mini.generate(["trumpet"], [0], cfg).waveforms
    assert not np.allclose(a, b)


def test_checkpoint_round_trips_in_a_new_process(tiny_mini, tmp_path) -> None:
    tiny_mini.model.save_pretrained(tmp_path / "mini")
    expected = tiny_mini.generate(PROMPTS, [3, 4]).waveforms
    code = (
        "import sys, numpy as np, torch; torch.set_num_threads(1);"
        "from tada.models import load_model;"
        f"a = load_model('mini', r'{tmp_path / 'mini'}');"
        f"np.save(r'{tmp_path / 'out.npy'}', a.generate({PROMPTS!r}, [3, 4]).waveforms)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert np.array_equal(np.load(tmp_path / "out.npy"), expected)


def test_missing_checkpoint_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(MissingCheckpointError, match="mini checkpoint not found.*snakemake"):
        load_model("mini", str(tmp_path / "nowhere"))


def test_mismatched_prompts_and_seeds(tiny_mini) -> None:
    with pytest.raises(ValueError, match="2 prompts but 1 seeds"):
        tiny_mini.generate(PROMPTS, [0])
