"""Fidelity to the reference's runs on tiny random-weight instances: its noise draws (``noise: reference``),
the settings per use (patching vs steering), lyrics reaching ACE-Step's lyric encoders, and ACE-Step v1's
text ERG for the unconditional pass (adapter logic tested with a stand-in for the ``acestep`` sampler)."""

from __future__ import annotations

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from diffusers.utils.torch_utils import randn_tensor  # noqa: E402
from torch import nn  # noqa: E402
from transformers import UMT5Config, UMT5EncoderModel  # noqa: E402

from tada.errors import ConfigError, UnknownNameError  # noqa: E402
from tada.metrics.lpaps import lpaps  # noqa: E402
from tada.models.ace_step import ERG_TAU, AceStep15Adapter, AceStepV1Adapter, latent_frames  # noqa: E402
from tada.models.audioldm2 import AudioLDM2Adapter  # noqa: E402
from tada.models.base import GenerationConfig  # noqa: E402
from tada.models.pipelines import NEGATIVE_PROMPT, leveled  # noqa: E402
from tada.models.stable_audio import StableAudioAdapter  # noqa: E402
from tada.steering.profiles import profile  # noqa: E402
from tada.testing import tiny  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),
    pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning"),
]

PROMPTS = ["a happy violin song with drums", "a fast jazz piece"]
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "tada-steering")


@pytest.fixture(scope="module")
def stable_audio() -> StableAudioAdapter:
    return tiny.tiny_stable_audio()


# noise: reference -------------------------------------------------------------------------------
def test_reference_noise_is_the_reference_draw_bit_for_bit(stable_audio: StableAudioAdapter) -> None:
    """Patching: every clip of the run from one CPU generator seeded 222 (``PatchableStableAudio.prepare_latents``)."""
    pipe = stable_audio.pipe
    config = stable_audio.generation_config("patching", steps=2, noise="reference", noise_rows=16)
    shape = (16, pipe.transformer.config.in_channels, int(pipe.transformer.config.sample_size))
    expected = torch.randn(shape, generator=torch.Generator().manual_seed(222), device="cpu", dtype=pipe.dtype)
    assert torch.equal(stable_audio.initial_noise([3, 4, 15], config), expected[[3, 4, 15]])
    # the pipeline starts from those latents: the clips equal a reference-style call of the pipeline itself
    ours = stable_audio.generate(PROMPTS, [3, 4], config.with_(duration=None)).waveforms
    theirs = pipe(
        prompt=PROMPTS,
        negative_prompt=[NEGATIVE_PROMPT] * 2,
        latents=expected[[3, 4]],
        generator=torch.Generator().manual_seed(222),
        num_inference_steps=2,
        guidance_scale=7.0,
        output_type="np",
    ).audios
    limited = theirs / np.maximum(1, np.abs(theirs).max((1, 2), keepdims=True))
    np.testing.assert_array_equal(ours, limited.astype(np.float32))


def test_reference_noise_chunks_of_the_steering_runs(stable_audio: StableAudioAdapter) -> None:
    """Stable Audio / AudioLDM2 steering: chunks of 8 prompts, generator seeded 2115 + chunk, on the model's device."""
    pipe = stable_audio.pipe
    config = stable_audio.generation_config("steering", noise="reference", noise_rows=12)
    shape = (pipe.transformer.config.in_channels, int(pipe.transformer.config.sample_size))
    first = torch.randn((8, *shape), generator=torch.Generator().manual_seed(2115), dtype=pipe.dtype)
    last = torch.randn((4, *shape), generator=torch.Generator().manual_seed(2116), dtype=pipe.dtype)  # 12 = 8 + 4
    assert torch.equal(stable_audio.initial_noise([7, 8, 11], config), torch.stack([first[7], last[0], last[3]]))
    with pytest.raises(ConfigError, match="outside the reference's draw of 12"):
        stable_audio.initial_noise([12], config)


def test_reference_noise_of_audioldm2_is_its_pipeline_draw() -> None:
    adapter = tiny.tiny_audioldm2()
    pipe = adapter.pipe
    config = adapter.generation_config("patching", noise="reference", noise_rows=5).with_(duration=0.016)
    factor = np.prod(pipe.vocoder.config.upsample_rates) / pipe.vocoder.config.sampling_rate
    height = int(np.ceil(int(0.016 / factor) / pipe.vae_scale_factor)) * pipe.vae_scale_factor
    generator = torch.Generator(pipe.device).manual_seed(222)
    expected = pipe.prepare_latents(5, pipe.unet.config.in_channels, height, pipe.dtype, pipe.device, generator)
    assert torch.equal(adapter.initial_noise([0, 4], config), expected[[0, 4]])


def test_whole_run_rows_do_not_depend_on_the_run_size_on_cpu() -> None:
    """Without ``noise_rows`` the CPU draw reaches the largest index; CPU fills front to back, so rows agree."""
    spec = AceStepV1Adapter.generation_presets["patching"].reference_noise
    draw = lambda n, g: torch.randn((n, 8, 16, 33), generator=g, dtype=torch.bfloat16)  # noqa: E731
    assert torch.equal(spec.rows([2, 9], None, draw, torch.device("cpu")), spec.rows([2, 9], 40, draw, "cpu"))


def test_per_clip_seeds_stay_batch_independent(stable_audio: StableAudioAdapter) -> None:
    config = stable_audio.generation_config("patching", steps=2).with_(duration=None)
    assert config.noise == "per_clip" and stable_audio.initial_noise([0], config) is None
    pair = stable_audio.generate(PROMPTS, [3, 4], config).waveforms
    alone = stable_audio.generate(PROMPTS[1:], [4], config).waveforms
    np.testing.assert_allclose(pair[1], alone[0], atol=1e-5)  # equal up to batched-kernel rounding


def test_unknown_noise_mode_and_archs_without_a_reference_run() -> None:
    with pytest.raises(UnknownNameError, match="noise mode 'refrence'.*Did you mean 'reference'"):
        GenerationConfig(noise="refrence")
    adapter = tiny.tiny_ace_step_15()
    with pytest.raises(ConfigError, match="'ace_step_15' has no reference run"):
        adapter.generate(PROMPTS, [0, 1], adapter.generation_config("steering", noise="reference"))


# loudness: reference -----------------------------------------------------------------------------
def test_leveled_batches_by_their_peak_only_where_the_reference_does() -> None:
    waves = np.array([[[0.5, -2.0]], [[0.25, 0.1]]], dtype=np.float32)
    per_clip = leveled(waves, GenerationConfig(batch_peak=True))
    np.testing.assert_allclose(per_clip, [[[0.25, -1.0]], [[0.25, 0.1]]])  # only the loud clip scaled down
    np.testing.assert_allclose(leveled(waves, GenerationConfig(loudness="reference", batch_peak=True)), waves / 2)
    np.testing.assert_allclose(leveled(waves, GenerationConfig(loudness="reference")), per_clip)
    with pytest.raises(UnknownNameError, match="loudness mode 'batch'"):
        GenerationConfig(loudness="batch")


def test_stable_audio_patching_under_reference_loudness_peaks_at_one(stable_audio: StableAudioAdapter) -> None:
    config = stable_audio.generation_config("patching", steps=2).with_(duration=None, loudness="reference")
    assert stable_audio.generation_presets["patching"].batch_peak
    assert not stable_audio.generation_presets["steering"].batch_peak  # its steering keeps the raw level
    batch = stable_audio.generate(PROMPTS, [3, 4], config).waveforms
    assert np.abs(batch).max() == pytest.approx(1.0)


# settings per use --------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter", [StableAudioAdapter, AudioLDM2Adapter])
def test_diffusers_steering_presets_differ_from_patching(adapter: type) -> None:
    patching, steering = adapter.generation_presets["patching"], adapter.generation_presets["steering"]
    assert (patching.negative_prompt, patching.duration) == ("Low quality, average quality.", 9.0)
    assert (steering.negative_prompt, steering.duration) == (None, 10.0)
    assert patching.steps == steering.steps == 100 and patching.guidance_scale == steering.guidance_scale
    assert (patching.reference_noise.seed, patching.reference_noise.chunk) == (222, None)
    assert (steering.reference_noise.seed, steering.reference_noise.chunk) == (2115, 8)


def test_ace_step_steering_presets_differ_from_patching() -> None:
    patching, steering = (AceStepV1Adapter.generation_presets[u] for u in ("patching", "steering"))
    assert (patching.steps, patching.guidance_scale, patching.scheduler["omega_scale"], patching.lyrics) == (
        50, 7.0, 7.0, "")
    assert (steering.steps, steering.guidance_scale, steering.scheduler["omega_scale"], steering.lyrics) == (
        30, 5.0, 10.0, "[inst]")
    assert patching.scheduler["use_erg_tag"] and steering.scheduler["use_erg_tag"]
    assert (patching.reference_noise.seed, steering.reference_noise.seed) == (222, 2115)
    assert AceStep15Adapter.generation_presets["steering"].lyrics == "[inst]"


def test_steering_without_negative_prompt_conditions_uncond_on_the_empty_prompt(stable_audio) -> None:
    """Stable Audio with no negative prompt: the unconditional cross-attention context is all zeros."""
    config = stable_audio.generation_config("steering", steps=1).with_(duration=None)
    site = stable_audio.sites()[0]
    recorded = stable_audio.record_conditioning(PROMPTS, [0, 1], config, [site])[site.name]
    assert not recorded["uncond"]["encoder_hidden_states"].any() and recorded["cond"]["encoder_hidden_states"].any()
    with_negative = stable_audio.record_conditioning(PROMPTS, [0, 1], config.with_(negative_prompt=NEGATIVE_PROMPT),
                                                     [site])[site.name]
    assert with_negative["uncond"]["encoder_hidden_states"].any()


def test_vocal_concepts_sing_the_reference_lyrics() -> None:
    if not os.path.isdir(REFERENCE):
        pytest.skip("reference prompt data not present")
    arch = profile("ace_step_v1", reference_prompts=REFERENCE)
    lyrics = arch.lyrics("vocal_gender", 3)
    assert len(lyrics) == 3 and all(len(text) > 20 for text in lyrics) and len(set(lyrics)) == 3
    assert arch.lyrics("piano", 3) is None  # the preset's "[inst]"
    assert profile("mini").lyrics("violin", 3) is None


def test_lpaps_window_never_exceeds_the_clip() -> None:
    """9 s patching clips under the protocol's 10 s window: one window of the clip's own length."""
    seen: list[tuple[int, ...]] = []

    class Stages:
        def audio_stages(self, batch: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
            seen.append(batch.shape)
            return [torch.as_tensor(batch)[:, None, :]]

    rate, wave = 100, np.random.default_rng(0).normal(size=900).astype(np.float32)
    assert lpaps(Stages(), wave, -wave, rate, window_seconds=10.0) > 0
    assert seen == [(2, 900)]  # the clip's and the reference's single 9 s window


# lyrics reach ACE-Step 1.5's lyric encoder -------------------------------------------------------------
def test_lyrics_reach_the_ace_step_15_lyric_encoder() -> None:
    adapter = tiny.tiny_ace_step_15()
    seen: list[torch.Tensor] = []
    hook = adapter.pipe.condition_encoder.lyric_encoder.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append((args or tuple(kwargs.values()))[0].clone()), with_kwargs=True
    )
    config = adapter.generation_config("steering", steps=2, duration=2.0)
    try:
        sung = adapter.generate(PROMPTS, [0, 1], config.with_(lyrics=("happy song", "sad song"))).waveforms
        inst = adapter.generate(PROMPTS, [0, 1], config).waveforms
    finally:
        hook.remove()
    assert not torch.equal(seen[0][0], seen[0][1])  # each prompt its own lyrics
    assert seen[0].shape != seen[1].shape or not torch.equal(seen[0], seen[1])
    assert np.abs(sung - inst).max() > 0
    with pytest.raises(ConfigError, match="got 1 lyrics for 2 prompts"):
        adapter.generate(PROMPTS, [0, 1], config.with_(lyrics=["one"]))


# ACE-Step v1: the adapter's logic around a stand-in for the acestep sampler ------------------------------
class _CrossAttention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.to_q = nn.Linear(width, width)

    def forward(self, hidden_states, encoder_hidden_states=None, encoder_attention_mask=None):
        return self.to_q(hidden_states) + encoder_hidden_states.mean(1, keepdim=True)


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.cross_attn, self.attn = _CrossAttention(width), nn.Linear(width, width)


class _DiT(nn.Module):
    """Text projection plus blocks whose cross-attention takes the packed text (as ``ACEStepTransformer2DModel``)."""

    def __init__(self, text_width: int, width: int = 8, blocks: int = 3) -> None:
        super().__init__()
        self.project = nn.Linear(text_width, width)
        self.transformer_blocks = nn.ModuleList(_Block(width) for _ in range(blocks))

    def decode(self, hidden_states, timestep, encoder_hidden_states, encoder_hidden_mask):
        h = hidden_states.mean(2).transpose(1, 2)  # (batch, frames, 8 channels)
        for block in self.transformer_blocks:
            h = block.cross_attn(
                h, encoder_hidden_states=encoder_hidden_states, encoder_attention_mask=encoder_hidden_mask
            )
        return h


class _Decoder:
    def decode(self, latents, sr):
        return sr, [torch.tanh(x.float().mean(0)).repeat(2, 4000)[:, : 30 * 48000] for x in latents]


class _V1Pipeline:
    """What the adapter uses of ``acestep.pipeline_ace_step.ACEStepPipeline``: its text encoder and tokenizer,
    the lyric tokenizer, and a sampler that floors the frame count, draws its noise with this module's
    ``randn_tensor`` and runs the DiT's ``decode()`` twice per step (conditional, then unconditional)."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.device, self.dtype = torch.device("cpu"), torch.float32
        self.text_tokenizer = tiny.t5_tokenizer(128)
        config = UMT5Config(vocab_size=len(self.text_tokenizer), d_model=16, d_ff=32, d_kv=8, num_heads=2,
                            num_layers=10)
        self.text_encoder_model = UMT5EncoderModel(config).eval()
        self.ace_step_transformer = _DiT(16).eval()
        self.music_dcae = _Decoder()
        self.calls: list[dict] = []

    def tokenize_lyrics(self, lyrics: str) -> list[int]:
        return [261] + [3 + ord(c) % 50 for c in lyrics] + [2]

    def text2music_diffusion_process(self, duration, encoder_text_hidden_states, random_generators, infer_steps,
                                     encoder_text_hidden_states_null=None, **kwargs):
        frames = int(duration * 44100 / 512 / 8)
        batch = encoder_text_hidden_states.shape[0]
        latents = randn_tensor(shape=(batch, 8, 16, frames), generator=random_generators, device=self.device,
                               dtype=self.dtype)
        self.calls.append(dict(kwargs, frames=frames, latents=latents, null=encoder_text_hidden_states_null))
        dit, mask = self.ace_step_transformer, kwargs["text_attention_mask"]
        null = torch.zeros_like(encoder_text_hidden_states) if encoder_text_hidden_states_null is None else (
            encoder_text_hidden_states_null)
        for step in range(infer_steps):
            t = torch.full((batch,), 1000.0 - step)
            for text in (encoder_text_hidden_states, null):
                dit.decode(hidden_states=latents, timestep=t, encoder_hidden_states=dit.project(text),
                           encoder_hidden_mask=mask)
        return latents


@pytest.fixture
def v1() -> AceStepV1Adapter:
    return AceStepV1Adapter(_V1Pipeline())


def _config(adapter: AceStepV1Adapter, **changes) -> GenerationConfig:
    return adapter.generation_config("steering", steps=2, **changes)


def test_v1_unconditional_text_is_the_prompts_erg_encoding(v1: AceStepV1Adapter) -> None:
    weakened = copy.deepcopy(v1.pipe.text_encoder_model)
    for i in (8, 9):  # T5's query projection has no bias: scaling its weight scales its output
        weakened.encoder.block[i].layer[0].SelfAttention.q.weight.data *= ERG_TAU
    inputs = v1.pipe.text_tokenizer(PROMPTS, padding="max_length", max_length=128, return_tensors="pt")
    expected = weakened(**inputs).last_hidden_state
    null = v1.erg_null(PROMPTS)
    torch.testing.assert_close(null, expected)
    assert not torch.allclose(null, v1.encode_prompt(PROMPTS).hidden_states)
    v1.generate(PROMPTS, [0, 1], _config(v1))
    torch.testing.assert_close(v1.pipe.calls[-1]["null"], expected)
    assert "use_erg_tag" not in v1.pipe.calls[-1]  # ours, not a sampler option
    v1.generate(PROMPTS, [0, 1], _config(v1, scheduler={"use_erg_tag": False}))
    assert v1.pipe.calls[-1]["null"] is None  # zeros: the sampler's own fallback


def test_v1_patching_covers_both_passes_under_erg(v1: AceStepV1Adapter) -> None:
    site = v1.sites()[0]
    config = v1.generation_config("patching", steps=1)

    def uncond(prompts: list[str], cfg: GenerationConfig) -> torch.Tensor:
        return v1.record_conditioning(prompts, [0], cfg, [site])[site.name]["uncond"]["encoder_hidden_states"]

    clean, corrupted = ["a happy violin song"], ["a sad trumpet song"]
    assert not torch.equal(uncond(clean, config), uncond(corrupted, config))  # the prompt reaches the uncond pass
    zeros = config.with_(scheduler={"use_erg_tag": False})
    assert torch.equal(uncond(clean, zeros), uncond(corrupted, zeros))  # ...and does not without ERG


def test_v1_lyrics_reach_the_lyric_tokens(v1: AceStepV1Adapter) -> None:
    v1.generate(PROMPTS, [0, 1], _config(v1, lyrics=("[inst]", "")))
    call = v1.pipe.calls[-1]
    ids = v1.pipe.tokenize_lyrics("[inst]")
    assert call["lyric_token_ids"].tolist() == [ids, [0] * len(ids)]
    assert call["lyric_mask"].tolist() == [[1] * len(ids), [0] * len(ids)]


def test_v1_latent_length_and_reference_noise(v1: AceStepV1Adapter) -> None:
    assert latent_frames(30.0) == 323 and latent_frames(10.0) == 108
    v1.generate(PROMPTS, [0, 1], _config(v1))
    assert v1.pipe.calls[-1]["frames"] == 323
    per_clip = v1.pipe.calls[-1]["latents"]
    v1.generate(PROMPTS, [5, 2], _config(v1, noise="reference", noise_rows=100))
    expected = torch.randn((100, 8, 16, 323), generator=torch.Generator().manual_seed(2115), dtype=torch.float32)
    assert torch.equal(v1.pipe.calls[-1]["latents"], expected[[5, 2]])
    assert not torch.equal(per_clip, v1.pipe.calls[-1]["latents"])
    v1.generate(PROMPTS, [0, 1], _config(v1))  # the sampler draws its own noise again afterwards
    assert torch.equal(v1.pipe.calls[-1]["latents"], per_clip)
