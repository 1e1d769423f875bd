"""The ``tada`` command: help a newcomer can follow, compute / generate / sweep on a tiny mini model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

import tada.cli
from tada.cli import main
from tada.models.mini import MiniConfig, MiniTextToMusic
from tada.steering.concepts import mini_prompts
from tada.world.attributes import SWAPS

VOCAB = sorted({*SWAPS, ",", "a", "an", "and", "in", "instrument", "register", "recording", "of", "track", "where", "plays"})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("mini") / "model"
    MiniTextToMusic(MiniConfig(vocab=VOCAB, num_layers=3, width=32, heads=2, n_frames=8, n_samples=2048, steps=3)).save_pretrained(folder)
    return str(folder)


def test_help_names_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "tada.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("compute", "generate", "sweep", "convert-clap", "tada generate --arch mini --method caa"):
        assert command in out
    generate = subprocess.run([sys.executable, "-m", "tada.cli", "generate", "--help"], capture_output=True, text=True).stdout
    assert "--alpha" in generate and "--target-layers" in generate and "--prompt" in generate


def test_compute_generate_and_sweep(checkpoint, tmp_path, capsys) -> None:
    common = ["--arch", "mini", "--checkpoint", checkpoint, "--concept", "violin"]
    assert main(["compute", *common, "--method", "caa", "--compute-prompts", "2", "--out", str(tmp_path / "caa")]) == 0
    assert json.loads((tmp_path / "caa" / "config.json").read_text())["concept"] == "violin"
    raw = tmp_path / "raw.yaml"  # a compute setting from a file reaches the compute step
    raw.write_text(yaml.safe_dump({"weighting": "difference", "compute_prompts": 2}))
    assert main(["compute", *common, "--method", "caa", "--config", str(raw), "--out", str(tmp_path / "raw")]) == 0
    assert json.loads((tmp_path / "raw" / "config.json").read_text())["weighting"] == "difference"
    found = tmp_path / "localized.yaml"  # an arm's sites: the localized preset given, or every site but it
    found.write_text(yaml.safe_dump({"sites": ["tf1"]}))
    for arm, sites in (("loc", ["tf1"]), ("ablated", ["tf0", "tf2"])):
        out = tmp_path / f"caa_{arm}"
        assert main(["compute", *common, "--method", "caa", "--compute-prompts", "2", "--arm", arm, "--localized", str(found), "--out", str(out)]) == 0
        assert json.loads((out / "config.json").read_text())["sites"] == sites
    prompt = mini_prompts("violin", 1)[0]
    steer = ["--method", "caa", "--artifact", str(tmp_path / "caa"), "--prompt", prompt]
    assert main(["generate", *common, *steer, "--alpha", "0.3", "--out", str(tmp_path / "a.wav")]) == 0
    wave, rate = sf.read(tmp_path / "a.wav")
    assert rate == 8000 and wave.shape == (2048,)
    options = tmp_path / "run.yaml"  # options from a file, the command line overriding them
    options.write_text(yaml.safe_dump({"arch": "mini", "checkpoint": checkpoint, "method": "pci", "concept": "fast", "arm": "all", "alphas": [-3, 0, 3], "prompts": 2}))
    assert main(["sweep", "--config", str(options), "--alphas", "0", "2", "--out", str(tmp_path / "sweep")]) == 0
    manifest = pd.read_csv(tmp_path / "sweep" / "manifest.csv")
    assert sorted(manifest["alpha"].unique()) == [0, 2] and set(manifest["method"]) == {"pci_all"}
    chosen = tmp_path / "eval_set.csv"  # prompts with a seed each, as rule eval_set writes them
    pd.DataFrame({"prompt": mini_prompts("fast", 2), "seed": [3, 5]}).to_csv(chosen, index=False)
    assert main(["sweep", "--config", str(options), "--eval-set", str(chosen), "--out", str(tmp_path / "set")]) == 0
    manifest = pd.read_csv(tmp_path / "set" / "manifest.csv")
    assert manifest.groupby("prompt_id")["seed"].unique().map(list).tolist() == [[3], [5]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "caz", "--concept", "violin", "--alpha", "1"], "unknown steering method 'caz'"),
        (["--method", "pci", "--concept", "cello", "--alpha", "2"], "unknown concept of 'mini' 'cello'"),
        (["--method", "pci", "--concept", "violin", "--alpha", "1.5"], "PCI alpha must be an integer"),
        (["--method", "caa", "--concept", "violin", "--alpha", "1"], "needs an artifact"),
        (["--method", "pci", "--concept", "violin"], "--alpha"),
        (["--method", "pci", "--concept", "violin", "--alpha", "1", "--arm", "loc"], "run `snakemake --cores 2 results/localization"),
    ],
)
def test_bad_input_is_one_clear_line(checkpoint, tmp_path, capsys, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)  # no results/ here: mini's localized preset is not found
    prompt = mini_prompts("violin", 1)[0]
    code = main(["generate", "--arch", "mini", "--checkpoint", checkpoint, "--prompt", prompt, "--out", str(tmp_path / "x.wav"), *args])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()



class ReachedTheModel(Exception):
    """Raised in place of loading the model: the options got past every check."""


def compute_with_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict) -> int:
    def load(opts: dict) -> None:
        raise ReachedTheModel

    monkeypatch.setattr(tada.cli, "_load", load)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(settings))
    return main(["compute", "--config", str(path), "--arch", "mini", "--method", "caa", "--concept", "violin", "--out", str(tmp_path / "a")])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"weighing": "unit"}, "unknown option(s) weighing"),  # a misspelt key is not ignored
        ({"top_k": 32}, "unknown option(s) top_k"),  # not a setting of caa's compute step
        ({"weighting": 1}, "'weighting' must be of type str"),  # a value of the wrong type is refused
    ],
)
def test_config_file_keys_and_types_are_checked_before_loading(tmp_path, capsys, monkeypatch, settings, message) -> None:
    assert compute_with_file(tmp_path, monkeypatch, settings) == 2 and message in capsys.readouterr().err


def test_one_config_file_may_serve_several_commands(tmp_path, monkeypatch) -> None:
    with pytest.raises(ReachedTheModel):
        compute_with_file(tmp_path, monkeypatch, {"compute_prompts": 2, "alphas": [0, 1], "seeds": 1, "weighting": "difference"})


def test_method_options_reach_the_controller(checkpoint, tmp_path, capsys) -> None:
    common = ["--arch", "mini", "--checkpoint", checkpoint, "--concept", "violin", "--method", "austeer"]
    assert main(["compute", *common, "--compute-prompts", "2", "--out", str(tmp_path / "austeer")]) == 0
    steer = [*common, "--artifact", str(tmp_path / "austeer"), "--prompt", mini_prompts("violin", 1)[0], "--alpha", "0.1"]
    assert main(["generate", *steer, "--set", "top_k=100000", "--out", str(tmp_path / "a.wav")]) == 2
    assert "top_k 100000 exceeds" in capsys.readouterr().err and not (tmp_path / "a.wav").exists()
    options = tmp_path / "run.yaml"
    options.write_text(yaml.safe_dump({"top_k": 4, "renorm": False}))
    assert main(["generate", *steer, "--config", str(options), "--out", str(tmp_path / "a.wav")]) == 0
    assert main(["generate", *steer, "--set", "top_k=8", "--out", str(tmp_path / "b.wav")]) == 0
    assert not np.array_equal(sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0])
