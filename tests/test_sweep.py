"""PCI prompt switching and steering sweeps on a tiny random-weight mini model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import tada.steering.sweep as sweep_module
from tada.errors import ConfigError, UnknownNameError
from tada.metrics.sweep import load_manifest
from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic
from tada.protocol.aggregate import MANIFEST_COLUMNS
from tada.steering import METHODS, method_sites, mini_concept_prompts, pci, run_sweep, sweep_alphas, sweep_concept
from tada.world.attributes import FAMILIES, SWAPS

VOCAB = sorted(
    {*SWAPS, ",", "a", "an", "and", "in", "instrument", "register", "recording", "of", "track", "where", "plays"}
)
STEPS = 4


@pytest.fixture(scope="module")
def adapter() -> MiniAdapter:
    torch.manual_seed(0)
    config = MiniConfig(
        vocab=VOCAB, num_layers=3, width=32, heads=2, n_frames=8, n_samples=2048, steps=STEPS, semantic_blocks=[1]
    )
    return MiniAdapter(MiniTextToMusic(config))


@pytest.fixture(scope="module")
def prompts():
    return mini_concept_prompts("violin", 2)


def _pci(adapter: MiniAdapter, prompts, alpha: int, method: str = "pci_all") -> np.ndarray:
    config = adapter.generation_config("steering")
    sites = method_sites(adapter, method)
    seeds = [0, 1]
    return pci(adapter, prompts.neutral, prompts.positive, prompts.negative, seeds, config, alpha, sites).waveforms


def _plain(adapter: MiniAdapter, texts: list[str]) -> np.ndarray:
    return adapter.generate(texts, [0, 1], adapter.generation_config("steering")).waveforms


def test_concept_prompts_differ_only_in_the_concept_family() -> None:
    p = mini_concept_prompts("fast", 8, seed=3)
    assert len(p) == 8 and len(set(p.neutral)) == 8
    for n, pos, neg in zip(p.neutral, p.positive, p.negative, strict=True):
        assert not any(w in n.split() for w in FAMILIES["tempo"])
        assert "fast" in pos.split() and "slow" in neg.split()
        assert pos.replace("fast", "slow") == neg
    assert "an instrument" in " ".join(mini_concept_prompts("violin", 8).neutral)


def test_sites_of_the_methods(adapter: MiniAdapter) -> None:
    assert [s.name for s in method_sites(adapter, "pci_all")] == ["tf0", "tf1", "tf2"]
    assert [s.name for s in method_sites(adapter, "pci_loc")] == ["tf1"]
    assert [s.name for s in method_sites(adapter, "pci_loc", "tf0tf2")] == ["tf0", "tf2"]
    with pytest.raises(UnknownNameError, match="pci_all"):
        method_sites(adapter, "pci_everything")


def test_alpha_zero_is_the_neutral_generation(adapter: MiniAdapter, prompts) -> None:
    np.testing.assert_array_equal(_pci(adapter, prompts, 0), _plain(adapter, prompts.neutral))


def test_full_switch_is_the_target_generation(adapter: MiniAdapter, prompts) -> None:
    np.testing.assert_allclose(_pci(adapter, prompts, STEPS), _plain(adapter, prompts.positive), atol=1e-5)
    np.testing.assert_allclose(_pci(adapter, prompts, -STEPS), _plain(adapter, prompts.negative), atol=1e-5)


def test_partial_and_localized_switches_lie_between(adapter: MiniAdapter, prompts) -> None:
    neutral, positive = _plain(adapter, prompts.neutral), _plain(adapter, prompts.positive)
    for steered in (_pci(adapter, prompts, 2), _pci(adapter, prompts, STEPS, "pci_loc")):
        assert np.abs(steered - neutral).max() > 1e-4 and np.abs(steered - positive).max() > 1e-4


def test_alpha_must_be_whole_steps_in_range(adapter: MiniAdapter, prompts) -> None:
    with pytest.raises(ConfigError, match="integer"):
        _pci(adapter, prompts, STEPS + 1)
    with pytest.raises(ConfigError, match="integer"):
        _pci(adapter, prompts, 1.5)
    assert sweep_alphas(4) == [-4, -2, 0, 2, 4] and sweep_alphas(3) == [-3, -1, 0, 1, 3]


def test_sweep_writes_the_protocol_manifest(adapter: MiniAdapter, prompts, tmp_path) -> None:
    sites = method_sites(adapter, "pci_all")
    manifest = run_sweep(adapter, prompts, "pci_all", sites, [0, 1], tmp_path, alphas=[2, -2, 0], progress=False)
    assert manifest.columns.tolist() == list(MANIFEST_COLUMNS) == load_manifest(tmp_path).columns.tolist()
    assert len(manifest) == 3 * 2 * 2 and sorted(manifest["alpha"].unique()) == [-2, 0, 2]
    assert set(manifest["concept"]) == {"violin"} and set(manifest["method"]) == {"pci_all"}
    assert set(manifest["prompt"]) == set(prompts.neutral)
    for path in manifest["path"]:
        wave, sr = sf.read(tmp_path / path)
        assert sr == 8000 and wave.shape == (2048,)
    ref = manifest[(manifest["alpha"] == 0) & (manifest["seed"] == 1) & (manifest["prompt_id"] == 0)]
    expected = adapter.generate([prompts.neutral[0]], [1], adapter.generation_config("steering")).waveforms[0, 0]
    np.testing.assert_allclose(sf.read(tmp_path / ref["path"].item())[0], expected, atol=1 / 2**14)


def test_sweep_needs_the_reference_alpha(adapter: MiniAdapter, prompts, tmp_path) -> None:
    with pytest.raises(ConfigError, match="alpha 0"):
        run_sweep(adapter, prompts, "pci_all", [], [0], tmp_path, alphas=[2], progress=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("concept", "method", "match"),
    [("viola", "pci_all", "violin"), ("violin", "pci_some", "pci_loc")],
)
def test_bad_names_fail_before_loading(monkeypatch, tmp_path, concept: str, method: str, match: str) -> None:
    def no_load(*_args, **_kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(sweep_module, "load_model", no_load)
    with pytest.raises(UnknownNameError, match=match):
        sweep_concept("mini", "unused", concept, method, tmp_path, n_prompts=2, n_seeds=1)
    assert set(METHODS) == {"pci_all", "pci_loc"}
