"""nnsight for users: edits made through nnsight traces over a whole generation give exactly the audio of
tada's own edits, on the tiny mini model and a tiny Stable Audio pipeline (whose torchsde scheduler
nnsight's default PYMOUNT would break); the module docstring's example runs as written."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import runpy  # noqa: E402
import textwrap  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import nnsight  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import tada.models.nnsight as tada_nnsight  # noqa: E402
from tada.errors import TadaError, UnknownNameError  # noqa: E402
from tada.interventions import MapOutput, ReplaceConditioning, ZeroOutput  # noqa: E402
from tada.models.base import GenerationConfig, ModelAdapter  # noqa: E402
from tada.models.nnsight import NNsightDenoiser, nnsight_denoiser  # noqa: E402
from tada.testing import tiny  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),  # torchsde, Stable Audio's final sigma 0
    pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning"),
]

CLEAN = ["a happy violin melody", "a fast flute melody"]
CORRUPTED = ["a sad trumpet melody", "a slow xylophone melody"]
SEEDS = [3, 4]
SITE = "tf1"


@pytest.fixture(params=["mini", "stable_audio"])
def model(request: pytest.FixtureRequest) -> tuple[ModelAdapter, GenerationConfig]:
    if request.param == "mini":
        adapter = request.getfixturevalue("tiny_mini")
        return adapter, adapter.generation_config("patching", steps=3)
    adapter = tiny.tiny_stable_audio()
    return adapter, adapter.generation_config("patching", steps=3).with_(duration=2.0)


def tada_generate(adapter: ModelAdapter, config: GenerationConfig, prompts: list[str], edits: dict) -> np.ndarray:
    with adapter.intervene({adapter.registry().resolve(name)[0]: edit for name, edit in edits.items()}):
        return adapter.generate(prompts, SEEDS, config).waveforms


# the nnsight side, written as in the module docstring's example ----------------------------------
def nnsight_clean_conditioning(nns: NNsightDenoiser, config: GenerationConfig, name: str) -> dict:
    site = nns.site(name)
    with nns.trace(CLEAN, SEEDS, config) as tracer:
        _, kwargs = site.inputs
        clean = nnsight.save({k: kwargs[k] for k in nns.adapter.cond_kwargs if kwargs.get(k) is not None})
        tracer.stop()
    return clean


def nnsight_patch_conditioning(nns: NNsightDenoiser, config: GenerationConfig, name: str, clean: dict) -> np.ndarray:
    site, n = nns.site(name), nns.calls(config)
    with nns.trace(CORRUPTED, SEEDS, config) as tracer:
        for _ in tracer.iter[:n]:
            args, kwargs = site.inputs
            site.inputs = (args, {**kwargs, **clean})
        patched = nnsight.save(tracer.result)
    return patched.waveforms


def nnsight_zero(nns: NNsightDenoiser, config: GenerationConfig, name: str) -> np.ndarray:
    site, n = nns.site(name), nns.calls(config)
    with nns.trace(CORRUPTED, SEEDS, config) as tracer:
        for _ in tracer.iter[:n]:
            site.output = torch.zeros_like(site.output)
        ablated = nnsight.save(tracer.result)
    return ablated.waveforms


def nnsight_clean_outputs(nns: NNsightDenoiser, config: GenerationConfig, name: str) -> list[torch.Tensor]:
    site, n = nns.site(name), nns.calls(config)
    with nns.trace(CLEAN, SEEDS, config) as tracer:
        outputs = nnsight.save([])
        for _ in tracer.iter[:n]:
            outputs.append(site.output.clone())
    return outputs


def nnsight_patch_outputs(
    nns: NNsightDenoiser, config: GenerationConfig, name: str, outputs: list[torch.Tensor]
) -> np.ndarray:
    site, n = nns.site(name), nns.calls(config)
    with nns.trace(CORRUPTED, SEEDS, config) as tracer:
        for step in tracer.iter[:n]:
            site.output = outputs[step]
        patched = nnsight.save(tracer.result)
    return patched.waveforms


# equivalence with tada's edits -----------------------------------------------------------------------
def test_ablation_matches_zero_output(model) -> None:
    adapter, config = model
    expected = tada_generate(adapter, config, CORRUPTED, {SITE: ZeroOutput()})
    corrupted = adapter.generate(CORRUPTED, SEEDS, config).waveforms
    assert np.abs(expected - corrupted).max() > 1e-6  # the ablation changes the audio
    np.testing.assert_array_equal(nnsight_zero(nnsight_denoiser(adapter), config, SITE), expected)


def test_conditioning_patching_matches_replace_conditioning(model) -> None:
    adapter, config = model
    site = adapter.registry().resolve(SITE)[0]
    recorded = adapter.record_conditioning(CLEAN, SEEDS, config, [site])
    expected = tada_generate(adapter, config, CORRUPTED, {SITE: ReplaceConditioning(recorded[SITE])})
    corrupted = adapter.generate(CORRUPTED, SEEDS, config).waveforms
    assert np.abs(expected - corrupted).max() > 1e-6

    nns = nnsight_denoiser(adapter)
    clean = nnsight_clean_conditioning(nns, config, SITE)
    np.testing.assert_array_equal(nnsight_patch_conditioning(nns, config, SITE, clean), expected)


def test_key_patching_matches_replace_conditioning(model) -> None:
    """A ``k`` site's envoy is the ``to_k`` projection: patching its input = tada's ``tf1k`` edit."""
    adapter, config = model
    site = adapter.registry().resolve(SITE + "k")[0]
    recorded = adapter.record_conditioning(CLEAN, SEEDS, config, [site])
    expected = tada_generate(adapter, config, CORRUPTED, {site.name: ReplaceConditioning(recorded[site.name])})

    nns = nnsight_denoiser(adapter)
    clean = nnsight_clean_conditioning(nns, config, SITE)["encoder_hidden_states"]
    key, n = nns.site(SITE + "k"), nns.calls(config)
    with nns.trace(CORRUPTED, SEEDS, config) as tracer:
        for _ in tracer.iter[:n]:
            key.input = clean
        patched = nnsight.save(tracer.result)
    assert np.abs(expected - adapter.generate(CORRUPTED, SEEDS, config).waveforms).max() > 1e-6
    np.testing.assert_array_equal(patched.waveforms, expected)


def test_output_patching_matches_map_output(model) -> None:
    """The clean run's output of the site, call by call, replaces the corrupted run's."""
    adapter, config = model
    recorded: list[torch.Tensor] = []
    tada_generate(adapter, config, CLEAN, {SITE: MapOutput(lambda h: recorded.append(h.clone()) or h)})
    replay: Iterator[torch.Tensor] = iter(recorded)
    expected = tada_generate(adapter, config, CORRUPTED, {SITE: MapOutput(lambda h: next(replay))})
    assert next(replay, None) is None  # one recorded output per call of the site
    corrupted = adapter.generate(CORRUPTED, SEEDS, config).waveforms
    assert np.abs(expected - corrupted).max() > 1e-6

    nns = nnsight_denoiser(adapter)
    outputs = nnsight_clean_outputs(nns, config, SITE)
    assert len(outputs) == len(recorded)
    for ours, theirs in zip(outputs, recorded, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    np.testing.assert_array_equal(nnsight_patch_outputs(nns, config, SITE, outputs), expected)


# the wrapper itself ---------------------------------------------------------------------------------
def test_wrapping_is_transparent_and_cached(model) -> None:
    adapter, config = model
    before = adapter.generate(CORRUPTED, SEEDS, config).waveforms
    nns = nnsight_denoiser(adapter)
    assert nnsight_denoiser(adapter) is nns and isinstance(nns.model, nnsight.NNsight)
    np.testing.assert_array_equal(adapter.generate(CORRUPTED, SEEDS, config).waveforms, before)
    with nns.trace(CORRUPTED, SEEDS, config) as tracer:
        plain = nnsight.save(tracer.result)
    np.testing.assert_array_equal(plain.waveforms, before)
    # tada's hook edits still work on the wrapped denoiser
    with adapter.intervene({adapter.registry().resolve(SITE)[0]: ZeroOutput()}):
        assert np.abs(adapter.generate(CORRUPTED, SEEDS, config).waveforms - before).max() > 1e-6


def test_calls_counts_every_call_of_a_site(model) -> None:
    adapter, config = model
    module = adapter.denoiser.get_submodule(adapter.registry().resolve(SITE)[0].module)
    count = 0

    def hook(*_: object) -> None:
        nonlocal count
        count += 1

    handle = module.register_forward_hook(hook)
    try:
        adapter.generate(CLEAN, SEEDS, config)
    finally:
        handle.remove()
    assert nnsight_denoiser(adapter).calls(config) == count == config.steps


def test_site_names_resolve_to_envoys(tiny_mini) -> None:
    nns = nnsight_denoiser(tiny_mini)
    blocks = nns.model.transformer_blocks
    assert nns.site("tf1")._module is tiny_mini.denoiser.transformer_blocks[1].attn2
    assert nns.site("tf1") is blocks[1].attn2
    assert nns.site("tf2k")._module is tiny_mini.denoiser.transformer_blocks[2].attn2.to_k
    assert nns.site("tf0self")._module is tiny_mini.denoiser.transformer_blocks[0].attn1
    assert list(nns.sites("tf0tf2")) == ["tf0", "tf2"]
    assert list(nns.sites("all")) == ["tf0", "tf1", "tf2"]
    with pytest.raises(TadaError, match="selects 2 sites.*sites\\(\\) takes presets"):
        nns.site("tf0tf2")
    with pytest.raises(UnknownNameError, match="tf9"):
        nns.site("tf9")


def test_pymount_is_off() -> None:
    """nnsight's ``.save`` mount on every object breaks torchsde; the module turns it off."""
    assert nnsight.CONFIG.APP.PYMOUNT is False
    assert not hasattr(object(), "save")
    from torchsde.settings import METHODS

    assert "euler" in METHODS  # sorts dir(METHODS): a TypeError with the mount


def test_docstring_example_runs_and_matches_tada(tmp_path) -> None:
    """The module docstring's example, run as a script, gives the audio of tada's own edits."""
    doc = tada_nnsight.__doc__
    example = textwrap.dedent(doc.split("::\n\n", 1)[1].split("\n\n``patched``", 1)[0])
    checkpoint = 'load_model("stable_audio", "stabilityai/stable-audio-open-1.0")'
    assert checkpoint in example
    example = example.replace(checkpoint, "tiny_stable_audio()")  # no weights offline: the tiny instance
    script = tmp_path / "example.py"
    script.write_text("from tada.testing.tiny import tiny_stable_audio\n" + example + "\n")
    ns = runpy.run_path(str(script), run_name="__main__")  # nnsight reads trace bodies from the file

    model, config = ns["model"], ns["config"]
    site = model.registry().resolve("tf1")[0]
    recorded = model.record_conditioning(["a happy violin song"], [0], config, [site])
    with model.intervene({site: ReplaceConditioning(recorded["tf1"])}):
        patched = model.generate(["a sad trumpet song"], [0], config)
    with model.intervene({site: ZeroOutput()}):
        ablated = model.generate(["a sad trumpet song"], [0], config)
    np.testing.assert_array_equal(ns["patched"].waveforms, patched.waveforms)
    np.testing.assert_array_equal(ns["ablated"].waveforms, ablated.waveforms)
    assert np.abs(patched.waveforms - ablated.waveforms).max() > 1e-6
