"""Stable Audio Open behind the adapter interface (diffusers ``StableAudioPipeline``).

Text reaches the DiT only through each block's cross-attention: the projected T5 states, followed
by the start/end-seconds tokens, are the ``encoder_hidden_states`` of ``transformer_blocks.N.attn2``.
The prepended global token carries only the seconds and the timestep, never the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import StableAudioPipeline
from torch import nn

from tada.models.base import Audio, GenerationConfig, PromptEncoding
from tada.models.noise import ReferenceNoise
from tada.models.pipelines import NEGATIVE_PROMPT, PipelineAdapter, encode_text, leveled
from tada.models.structures import StructureConfig, build_on_meta, load_config
from tada.sites import Site, dit_sites


class StableAudioAdapter(PipelineAdapter):
    """Stable Audio Open 1.0: a 24-block DiT with T5 cross-attention, CFG batched as ``[uncond, cond]``.

    ``GenerationConfig.scheduler`` holds extra keyword arguments of the pipeline call.
    """

    arch = "stable_audio"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")
    #: the reference's settings: patching (``configs/patch_config/stableaudio.yaml``) with the negative prompt,
    #: 9 s clips and all noise from one CPU generator seeded 222; steering (``SteeredStableAudioPipeline``)
    #: without a negative prompt, 10 s clips, chunks of 8 prompts drawn on the model's device from seed 2115 + chunk;
    #: its patching divides each batch by the batch's peak (``batch_peak``, under ``loudness: reference``)
    generation_presets = {
        "patching": GenerationConfig(
            steps=100, guidance_scale=7.0, duration=9.0, negative_prompt=NEGATIVE_PROMPT,
            reference_noise=ReferenceNoise(222), batch_peak=True,
        ),
        "steering": GenerationConfig(
            steps=100, guidance_scale=7.0, duration=10.0, reference_noise=ReferenceNoise(2115, chunk=8, device="model")
        ),
    }

    pipeline_class = StableAudioPipeline
    checkpoint_name = "Stable Audio Open"
    checkpoint_help = (
        "Accept the licence of stabilityai/stable-audio-open-1.0 on the Hub, then "
        "`huggingface-cli download stabilityai/stable-audio-open-1.0`, or pass a local folder."
    )

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vae.sampling_rate)

    @staticmethod
    def sites_of(transformer: nn.Module) -> list[Site]:
        """Sites of a ``StableAudioDiTModel`` (``attn2`` = text, ``attn1`` = self-attention)."""
        n = len(transformer.transformer_blocks)
        return dit_sites(n, "transformer_blocks.{}.attn2", "transformer_blocks.{}.attn1")

    @classmethod
    def meta_denoiser(cls, config: StructureConfig | None = None) -> nn.Module:
        """The full-size DiT on the meta device (no weights): Stable Audio Open 1.0's shipped config, or
        ``config`` (a mapping, a ``config.json``, or a checkpoint folder with ``transformer/config.json``)."""
        from diffusers import StableAudioDiTModel

        return build_on_meta(StableAudioDiTModel, load_config(config or "stable_audio", subfolder="transformer"))

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        tok = self.pipe.tokenizer
        return encode_text(tok, self.pipe.text_encoder, prompts, tok.model_max_length, self.pipe._execution_device)

    def draw_noise(self, n: int, generator: torch.Generator, config: GenerationConfig) -> torch.Tensor:
        """``randn`` of the DiT's full latent shape (the pipeline trims audio, not latents) in the pipeline's dtype."""
        shape = (n, self.denoiser.config.in_channels, int(self.denoiser.config.sample_size))
        return torch.randn(shape, generator=generator, device=generator.device, dtype=self.pipe.dtype)

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        negative = [config.negative_prompt] * len(prompts) if config.negative_prompt else None
        text: dict = {"prompt": list(prompts), "negative_prompt": negative}
        if prompt_embeds is not None:  # raw T5 states; the pipeline projects and masks them
            text = {"prompt_embeds": prompt_embeds.hidden_states, "attention_mask": prompt_embeds.attention_mask}
            if negative and config.guidance_scale > 1.0:
                neg = self.encode_prompt(negative)
                text |= {"negative_prompt_embeds": neg.hidden_states, "negative_attention_mask": neg.attention_mask}
        waves = self.pipe(
            **text,
            audio_end_in_s=config.duration,
            **self.call_kwargs(seeds, config),
        ).audios
        return Audio(leveled(waves, config), self.sample_rate)
