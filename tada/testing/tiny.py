"""Tiny random-weight pipelines of the real architectures and of mini, and their full-size structures on ``meta``.

The tiny pipelines use the dummy components of diffusers' own pipeline tests (Stable Audio,
AudioLDM2, ACE-Step 1.5) with tokenizers built locally, so nothing is downloaded; each builder
returns the adapter wrapping its pipeline. The ``meta_*`` builders instantiate the published
denoiser configs without allocating weights, to check module names and counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers import (
    AceStepPipeline,
    AudioLDM2Pipeline,
    AudioLDM2ProjectionModel,
    AudioLDM2UNet2DConditionModel,
    AutoencoderKL,
    AutoencoderOobleck,
    CosineDPMSolverMultistepScheduler,
    DDIMScheduler,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    StableAudioDiTModel,
    StableAudioPipeline,
    StableAudioProjectionModel,
)
from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
from diffusers.pipelines.ace_step import AceStepConditionEncoder
from tokenizers import Tokenizer, models, pre_tokenizers
from torch import nn
from transformers import (
    ClapAudioConfig,
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapTextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3Model,
    RobertaTokenizer,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)

from tada.models.ace_step import AceStep15Adapter, AceStepV1Adapter
from tada.models.audioldm2 import AudioLDM2Adapter
from tada.models.base import ModelAdapter
from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic
from tada.models.stable_audio import StableAudioAdapter
from tada.models.structures import load_config
from tada.world.attributes import SWAPS

#: whole-word vocabulary of the tiny tokenizers: caption words and the features' counterfactual swaps
WORDS = (
    "a an the with and of in on for by is this song music track piece tune sound playing plays played "
    "female male woman man she he her his girl boy fast slow happy sad cheerful gloomy upbeat downbeat "
    "reggae metal opera jazz blues band choir orchestra violin fiddle trumpet saxophone drums percussion "
    "cello bongos flute maracas harmonica harp trombone xylophone piano guitar bass vocal vocals voice "
    "singing instrumental low high quality average loud soft melody rhythm beat tempo"
).split()
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,:;!?'-#[]()"


#: clip lengths (s) of the tiny pipelines in patching tests (None: the pipeline's default)
PATCHING_DURATIONS = {"stable_audio": None, "audioldm2": 0.016, "ace_step_15": 2.0}
#: clip lengths (s) of the tiny pipelines in steering tests; AudioLDM2's tiny vocoder upsamples only 4x, so
#: 0.5 s would be ~1000 latent frames under self-attention (6x the time of 0.1 s)
STEERING_DURATIONS = {"stable_audio": 0.5, "audioldm2": 0.1, "ace_step_15": 1.0}


#: the words of the mini world's captions: a tiny mini model with it can steer the world's concepts
MINI_WORLD_VOCAB: list[str] = sorted(
    {*SWAPS, ",", "a", "an", "and", "in", "instrument", "register", "recording", "of", "track", "where", "plays"}
)


def tiny_mini_world(steps: int = 3, **config: Any) -> MiniAdapter:
    """A random-weight 3-block mini model over the world's caption words (``config`` overrides)."""
    torch.manual_seed(0)
    options = {"num_layers": 3, "width": 32, "heads": 2, "n_frames": 8, "n_samples": 2048} | config
    return MiniAdapter(MiniTextToMusic(MiniConfig(vocab=MINI_WORLD_VOCAB, steps=steps, **options)))


def t5_tokenizer(max_length: int) -> T5Tokenizer:
    """A T5 (Unigram) tokenizer: whole words from :data:`WORDS`, single characters for the rest."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{w}", -1.0) for w in WORDS] + [(c, -8.0) for c in CHARS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def roberta_tokenizer(max_length: int) -> RobertaTokenizer:
    """A byte-level BPE tokenizer (RoBERTa / GPT-2 family) with the 256 byte symbols and no merges."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def word_tokenizer(max_length: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over :data:`WORDS` and punctuation (stands in for Qwen's BPE)."""
    vocab = {w: i for i, w in enumerate(dict.fromkeys(["<pad>", "<unk>", *WORDS, *CHARS]))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", model_max_length=max_length
    )


def _eval(pipe: DiffusionPipeline) -> DiffusionPipeline:
    """Put every model of ``pipe`` in eval mode (freshly built models train, with dropout)."""
    for component in pipe.components.values():
        if isinstance(component, nn.Module):
            component.eval()
    return pipe


def tiny_stable_audio(num_layers: int = 4, seed: int = 0) -> StableAudioAdapter:
    """A tiny Stable Audio pipeline (clips of up to 2 s of 16 Hz stereo)."""
    torch.manual_seed(seed)
    transformer = StableAudioDiTModel(
        sample_size=16,
        in_channels=3,
        num_layers=num_layers,
        attention_head_dim=4,
        num_attention_heads=4,
        num_key_value_attention_heads=2,
        out_channels=3,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[1, 2],
        decoder_channels=3,
        decoder_input_channels=3,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=16,
    )
    tokenizer = t5_tokenizer(16)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=2)
    )
    projection = StableAudioProjectionModel(text_encoder_dim=16, conditioning_dim=4, min_value=0, max_value=32)
    pipe = StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=tokenizer,
        transformer=transformer,
        scheduler=scheduler,
    )
    return StableAudioAdapter(_eval(pipe))


def tiny_audioldm2(seed: int = 0) -> AudioLDM2Adapter:
    """An AudioLDM2 pipeline with the layout of ``cvssp/audioldm2-large`` in miniature.

    Each UNet layer holds four attention modules (self-only, GPT-2, Flan-T5, self-only) of two
    transformer blocks each, as in the reference's checkpoint: the shipped full-size layout with the
    GPT-2 / Flan-T5 widths shrunk to those of the tiny text models (16 / 32).
    """
    full = load_config("audioldm2_large")
    shrink = {None: None, 768: 16, 1024: 32}  # self-only, GPT-2, Flan-T5
    cross_dims = [shrink[d] for d in full["cross_attention_dim"][-1]]
    torch.manual_seed(seed)
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(16, 32),
        norm_num_groups=8,
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(cross_dims, cross_dims),
        transformer_layers_per_block=full["transformer_layers_per_block"],
        attention_head_dim=2,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )
    vae = AutoencoderKL(
        block_out_channels=[16, 32],
        norm_num_groups=8,
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    tokenizer = roberta_tokenizer(32)
    text_config = ClapTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=2,
        num_hidden_layers=2,
        vocab_size=len(tokenizer),
        projection_dim=16,
    )
    audio_config = ClapAudioConfig(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=37,
        depths=[2, 2],
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=192,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    )
    text_encoder = ClapModel(ClapConfig(text_config=text_config, audio_config=audio_config, projection_dim=16))
    tokenizer_2 = t5_tokenizer(16)
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2)
    )
    language_model = GPT2LMHeadModel(
        GPT2Config(n_embd=16, n_head=2, n_layer=2, vocab_size=8, n_positions=99, bos_token_id=0, eos_token_id=0)
    )
    language_model.config.max_new_tokens = 8
    projection = AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16)
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8,
            sampling_rate=16000,
            upsample_initial_channel=16,
            upsample_rates=[2, 2],
            upsample_kernel_sizes=[4, 4],
            resblock_kernel_sizes=[3, 7],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
            normalize_before=False,
        )
    )
    pipe = AudioLDM2Pipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        projection_model=projection,
        language_model=language_model,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(),
        unet=unet,
        scheduler=scheduler,
        vocoder=vocoder,
    )
    return AudioLDM2Adapter(_eval(pipe))


def tiny_ace_step_15(num_layers: int = 4, seed: int = 0) -> AceStep15Adapter:
    """An ACE-Step 1.5 pipeline (non-turbo, so CFG runs) with a word-level stand-in for Qwen3's tokenizer."""
    torch.manual_seed(seed)
    transformer = AceStepTransformer1DModel(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        in_channels=24,
        audio_acoustic_hidden_dim=8,
        patch_size=2,
        rope_theta=10000.0,
        sliding_window=16,
    )
    tokenizer = word_tokenizer(256)
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            vocab_size=len(tokenizer),
            max_position_embeddings=256,
        )
    )
    condition_encoder = AceStepConditionEncoder(
        hidden_size=32,
        intermediate_size=64,
        text_hidden_dim=32,
        timbre_hidden_dim=8,
        num_lyric_encoder_hidden_layers=2,
        num_timbre_encoder_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        rope_theta=10000.0,
        sliding_window=16,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[1, 2],
        decoder_channels=3,
        decoder_input_channels=8,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=16,
    )
    pipe = AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )
    return AceStep15Adapter(_eval(pipe))


# full-size structures -------------------------------------------------------------------------
# The published configs are package data (tada/models/structures/); the adapters build them on meta.


#: arch -> builder of its tiny random-weight instance (the real architectures with diffusers pipelines)
TINY_REAL_ARCHS: dict[str, Callable[[], ModelAdapter]] = {
    "stable_audio": tiny_stable_audio,
    "audioldm2": tiny_audioldm2,
    "ace_step_15": tiny_ace_step_15,
}


def meta_stable_audio() -> nn.Module:
    """The full-size Stable Audio Open DiT, without weights."""
    return StableAudioAdapter.meta_denoiser()


def meta_audioldm2() -> nn.Module:
    """The full-size AudioLDM2 UNet in the reference's layout, without weights."""
    return AudioLDM2Adapter.meta_denoiser()


def meta_ace_step_15() -> nn.Module:
    """The full-size ACE-Step 1.5 DiT, without weights."""
    return AceStep15Adapter.meta_denoiser()


def meta_ace_step_v1() -> nn.Module:
    """The full-size ACE-Step v1 DiT, without weights; needs the ``acestep`` package."""
    return AceStepV1Adapter.meta_denoiser()
