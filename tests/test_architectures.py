"""Real architectures behind one adapter interface: tiny instances generate and patch exactly,
full-size structures (meta device) resolve the reference's site names, bad input fails early."""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tada.errors import MissingCheckpointError, TadaError, UnknownNameError  # noqa: E402
from tada.interventions import ReplaceConditioning, ZeroOutput  # noqa: E402
from tada.models import adapter_class, scorer_of  # noqa: E402
from tada.models.ace_step import ACESTEP_INSTALL, AceStep15Adapter, AceStepV1Adapter, MissingPackageError  # noqa: E402
from tada.models.audioldm2 import AudioLDM2Adapter  # noqa: E402
from tada.models.base import GenerationConfig, ModelAdapter  # noqa: E402
from tada.models.stable_audio import StableAudioAdapter  # noqa: E402
from tada.sites import SiteRegistry  # noqa: E402
from tada.testing import tiny  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),  # torchsde, Stable Audio's final sigma 0
    pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning"),
]

CLEAN = ["a happy violin song with drums", "a fast jazz piece"]
CORRUPTED = ["a sad trumpet song with drums", "a slow opera piece"]
SEEDS = [3, 4]
BUILDERS = tiny.TINY_REAL_ARCHS


@dataclass
class Tiny:
    adapter: ModelAdapter
    config: GenerationConfig
    clean: np.ndarray
    corrupted: np.ndarray

    def run(self, prompts: list[str], seeds: list[int] = SEEDS) -> np.ndarray:
        return self.adapter.generate(prompts, seeds, self.config).waveforms


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the peak of ``b`` (the tiny vocoders are quiet)."""
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request: pytest.FixtureRequest) -> Tiny:
    adapter = BUILDERS[request.param]()
    config = adapter.generation_config("patching", steps=3).with_(duration=tiny.PATCHING_DURATIONS[request.param])
    clean = adapter.generate(CLEAN, SEEDS, config).waveforms
    return Tiny(adapter, config, clean, adapter.generate(CORRUPTED, SEEDS, config).waveforms)


# generation -------------------------------------------------------------------------------------
def test_generates_bounded_float_audio(model: Tiny) -> None:
    audio = model.adapter.generate(CLEAN, SEEDS, model.config)
    assert audio.waveforms.ndim == 3 and len(audio) == 2 and audio.waveforms.dtype == np.float32
    assert np.abs(audio.waveforms).max() <= 1.0 and audio.sample_rate > 0


def test_same_seed_same_audio_other_seed_other_audio(model: Tiny) -> None:
    np.testing.assert_array_equal(model.run(CLEAN), model.clean)
    reseeded = model.run(CLEAN, [5, SEEDS[1]])
    assert rel_diff(reseeded[0], model.clean[0]) > 1e-3  # the re-seeded clip changes...
    np.testing.assert_array_equal(reseeded[1], model.clean[1])  # ...its neighbour does not


def test_prompt_changes_audio(model: Tiny) -> None:
    assert rel_diff(model.corrupted, model.clean) > 1e-3


def test_clip_does_not_depend_on_its_batch(model: Tiny) -> None:
    if model.adapter.arch == "ace_step_15":
        pytest.skip("diffusers' AceStepPipeline pads text to the batch's longest prompt, unmasked in the DiT")
    alone = model.run(CLEAN[1:], SEEDS[1:])
    np.testing.assert_allclose(alone[0], model.clean[1], atol=1e-5 * np.abs(model.clean).max())


def test_encode_prompt_tokens(model: Tiny) -> None:
    enc = model.adapter.encode_prompt(CLEAN)
    assert enc.hidden_states.shape[0] == 2 and enc.hidden_states.ndim == 3
    assert enc.attention_mask.shape == enc.hidden_states.shape[:2]
    assert enc.positions(0, "violin") and enc.positions(1, "jazz")


def test_from_pretrained_loads_a_saved_pipeline(model: Tiny, tmp_path) -> None:
    """The real loading code, on the tiny pipeline saved to disk."""
    adapter = model.adapter
    adapter.pipe.save_pretrained(tmp_path)
    if adapter.arch == "audioldm2":  # the published checkpoints store GPT-2 without its LM head
        adapter.pipe.language_model.transformer.save_pretrained(tmp_path / "language_model")
        index_file = tmp_path / "model_index.json"
        index = json.loads(index_file.read_text()) | {"language_model": ["transformers", "GPT2Model"]}
        index_file.write_text(json.dumps(index))
    loaded = adapter_class(adapter.arch).from_pretrained(str(tmp_path))
    assert [s.name for s in loaded.sites()] == [s.name for s in adapter.sites()]
    reloaded = loaded.generate(CLEAN, SEEDS, model.config).waveforms
    np.testing.assert_allclose(reloaded, model.clean, atol=1e-5 * np.abs(model.clean).max())


# patching ---------------------------------------------------------------------------------------
def test_record_conditioning_covers_each_text_input(model: Tiny) -> None:
    adapter = model.adapter
    sites = adapter.registry().resolve("all")
    rec = adapter.record_conditioning(CLEAN, SEEDS, model.config, sites)
    assert set(rec) == {s.name for s in sites}
    for passes in rec.values():
        assert set(passes) == {"cond", "uncond"}  # one call holds both passes, split by the step clock
        assert passes["cond"]["encoder_hidden_states"].shape[0] == len(CLEAN)
    if adapter.arch == "audioldm2":  # GPT-2 modules take no mask; Flan-T5 modules take theirs
        assert {tuple(sorted(p["cond"])) for p in rec.values()} == {
            ("encoder_hidden_states",),
            ("attention_mask", "encoder_hidden_states"),
        }


def test_patching_all_sites_reproduces_clean(model: Tiny) -> None:
    adapter = model.adapter
    sites = adapter.registry().resolve("all")
    rec = adapter.record_conditioning(CLEAN, SEEDS, model.config, sites)
    with adapter.intervene({site: ReplaceConditioning(rec[site.name]) for site in sites}):
        patched = model.run(CORRUPTED)
    np.testing.assert_allclose(patched, model.clean, atol=1e-5)
    assert rel_diff(patched, model.corrupted) > 1e-3


def test_patching_no_site_reproduces_corrupted(model: Tiny) -> None:
    sites = model.adapter.registry().resolve("none")
    assert sites == []
    with model.adapter.intervene({}):
        np.testing.assert_array_equal(model.run(CORRUPTED), model.corrupted)


def test_key_and_value_sites(model: Tiny) -> None:
    adapter = model.adapter
    registry = adapter.registry()
    layer = registry.layers[0].name
    for variant in "kv":
        site = registry.resolve(layer + variant)[0]
        assert site.target.endswith(f".to_{variant}")
        rec = adapter.record_conditioning(CLEAN, SEEDS, model.config, [site])
        with adapter.intervene({site: ReplaceConditioning(rec[site.name])}):
            assert model.run(CORRUPTED).shape == model.clean.shape
    # keys and values of every layer together carry all the text: clean again
    kv = [registry.sites[s.name + v] for s in registry.layers for v in "kv"]
    rec = adapter.record_conditioning(CLEAN, SEEDS, model.config, kv)
    with adapter.intervene({site: ReplaceConditioning(rec[site.name]) for site in kv}):
        np.testing.assert_allclose(model.run(CORRUPTED), model.clean, atol=1e-5)


def test_ablating_a_site_changes_audio(model: Tiny) -> None:
    adapter = model.adapter
    with adapter.intervene({adapter.registry().layers[-1]: ZeroOutput()}):
        assert rel_diff(model.run(CLEAN), model.clean) > 1e-6


# full-size structures on the meta device -----------------------------------------------------------
def test_full_size_stable_audio_open() -> None:
    dit = tiny.meta_stable_audio()
    registry = SiteRegistry("stable_audio", StableAudioAdapter.sites_of(dit))
    assert [s.name for s in registry.layers] == [f"tf{n}" for n in range(24)]
    localized = registry.resolve("localized")
    assert [s.module for s in localized] == [f"transformer_blocks.{n}.attn2" for n in (4, 11, 12, 13, 18)]
    assert [s.name for s in registry.resolve("tf11tf12")] == ["tf11", "tf12"]
    key, value = registry.resolve("tf11k")[0], registry.resolve("tf11v")[0]
    to_k = dit.get_submodule(key.target)
    assert dit.get_submodule(value.target).in_features == to_k.in_features == 768  # T5 width after projection
    assert to_k.out_features == 12 * 64  # 12 key/value heads of 64
    assert dit.get_submodule("transformer_blocks.11.attn2.to_q").out_features == 24 * 64
    for site in registry.sites.values():
        dit.get_submodule(site.target)


def test_full_size_audioldm2_reference_layout() -> None:
    unet = tiny.meta_audioldm2()
    registry = SiteRegistry("audioldm2", AudioLDM2Adapter.sites_of(unet))
    assert len(registry.layers) == 64
    groups = {g: len(registry.resolve(g)) for g in ("down1", "down2", "down3", "mid", "up0", "up1", "up2")}
    assert groups == {"down1": 8, "down2": 8, "down3": 8, "mid": 4, "up0": 12, "up1": 12, "up2": 12}
    up1 = unet.up_blocks[1].attentions
    assert len(up1) == 12 and all(len(a.transformer_blocks) == 2 for a in up1)
    assert [a for a in range(12) if up1[a].transformer_blocks[0].attn2.is_cross_attention] == [1, 2, 5, 6, 9, 10]
    localized = registry.resolve("localized")
    assert [s.name for s in localized] == [
        "up1tf5attn0", "up1tf5attn1", "up1tf6attn0", "up1tf6attn1", "up1tf9attn0", "up1tf9attn1", "up1tf10attn0",
    ]  # fmt: skip
    assert localized[-1].module == "up_blocks.1.attentions.10.transformer_blocks.0.attn2"
    assert len(registry.resolve("up1tf2tf5tf9tf10")) == 8
    assert [s.name for s in registry.resolve("up1tf5attn0tf10attn0")] == ["up1tf5attn0", "up1tf10attn0"]
    assert unet.get_submodule(registry.resolve("up1tf5attn0k")[0].target).in_features == 768  # GPT-2 stream
    assert unet.get_submodule(registry.resolve("up1tf6attn0v")[0].target).in_features == 1024  # Flan-T5 stream


def test_full_size_ace_step_15() -> None:
    dit = tiny.meta_ace_step_15()
    registry = SiteRegistry("ace_step_15", AceStep15Adapter.sites_of(dit))
    assert len(registry.layers) == 24
    assert [s.module for s in registry.resolve("tf6tf7")] == ["layers.6.cross_attn", "layers.7.cross_attn"]
    assert dit.get_submodule("layers.7.cross_attn.to_q").in_features == 2048
    assert registry.resolve("tf7self")[0].module == "layers.7.self_attn"


def test_full_size_ace_step_v1() -> None:
    try:
        dit = tiny.meta_ace_step_v1()
    except MissingPackageError:
        pytest.skip(f"acestep package not installed: {ACESTEP_INSTALL}")
    registry = SiteRegistry("ace_step_v1", AceStepV1Adapter.sites_of(dit))
    assert len(registry.layers) == 24
    assert [s.module for s in registry.resolve("localized")] == [f"transformer_blocks.{n}.cross_attn" for n in (6, 7)]
    assert dit.get_submodule("transformer_blocks.7.cross_attn.to_q").in_features == 2560


# errors before anything is built -------------------------------------------------------------------
@pytest.fixture
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if an adapter starts loading a pipeline."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a model was built before the checkpoint was checked")

    for target in (
        "tada.models.stable_audio.StableAudioPipeline.from_pretrained",
        "tada.models.audioldm2.AudioLDM2Pipeline.from_pretrained",
        "tada.models.audioldm2.GPT2LMHeadModel.from_pretrained",
        "tada.models.ace_step.AceStepPipeline.from_pretrained",
        "tada.models.ace_step.import_acestep_pipeline",
    ):
        monkeypatch.setattr(target, refuse)


@pytest.mark.parametrize("arch", ["stable_audio", "audioldm2", "ace_step_v1", "ace_step_15"])
def test_missing_checkpoint_path(arch: str, tmp_path, nothing_built: None) -> None:
    with pytest.raises(MissingCheckpointError, match="checkpoint not found at .*(download|folder)") as err:
        adapter_class(arch).from_pretrained(str(tmp_path / "missing"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("arch", ["stable_audio", "audioldm2", "ace_step_v1", "ace_step_15"])
def test_unknown_hub_id_offline(arch: str, monkeypatch: pytest.MonkeyPatch, nothing_built: None) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingCheckpointError, match="not in the local Hugging Face cache") as err:
        adapter_class(arch).from_pretrained("nobody-tada/no-such-model")
    assert "\n" not in str(err.value)


def test_unknown_preset_lists_the_valid_ones() -> None:
    registry = SiteRegistry("stable_audio", StableAudioAdapter.sites_of(tiny.meta_stable_audio()))
    with pytest.raises(UnknownNameError, match="Did you mean 'localized'") as err:
        registry.resolve("localised")
    assert "\n" not in str(err.value) and "Valid: all, localized, none, tf0" in str(err.value)
    with pytest.raises(UnknownNameError):
        registry.resolve("tf24")


def test_ace_step_v1_without_its_package_says_how_to_install(tmp_path) -> None:
    try:
        import acestep  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("acestep is installed")
    with pytest.raises(MissingPackageError, match="pip install git\\+https://github.com/ace-step/ACE-Step") as err:
        AceStepV1Adapter.from_pretrained(str(tmp_path))
    assert isinstance(err.value, TadaError) and isinstance(err.value, ImportError)


def test_scorer_lookup_needs_no_model_library() -> None:
    """Scoring jobs ask which scorer an arch uses without importing diffusers (seconds per job)."""
    code = (
        "import sys; from tada.models import scorer_of; "
        "print(scorer_of('mini'), scorer_of('stable_audio'), 'diffusers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["mini", "clap", "False"]
    with pytest.raises(UnknownNameError, match="Did you mean 'mini'"):
        scorer_of("minii")
