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

from tada.models.base import Audio, GenerationConfig, PromptEncoding, resolve_checkpoint
from tada.models.pipelines import NEGATIVE_PROMPT, PipelineAdapter, dit_sites, encode_text, peak_limited, place
from tada.sites import Site

class StableAudioAdapter(PipelineAdapter):
    """Stable Audio Open 1.0: a 24-block DiT with T5 cross-attention, CFG batched as ``[uncond, cond]``.

    ``GenerationConfig.scheduler`` holds extra keyword arguments of the pipeline call.
    """

    arch = "stable_audio"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")
    denoiser_calls_per_step = 1
    generation_presets = {
        use: GenerationConfig(steps=100, guidance_scale=7.0, duration=9.0, negative_prompt=NEGATIVE_PROMPT)
        for use in ("patching", "steering")
    }

    @classmethod
    def from_pretrained(
        cls, path_or_id: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, cpu_offload: bool = False
    ) -> StableAudioAdapter:
        path = resolve_checkpoint(
            path_or_id,
            what="Stable Audio Open",
            how="Accept the licence of stabilityai/stable-audio-open-1.0 on the Hub, then "
            "`huggingface-cli download stabilityai/stable-audio-open-1.0`, or pass a local folder.",
        )
        pipe = StableAudioPipeline.from_pretrained(path, dtype=dtype)
        return cls(place(pipe, device, cpu_offload))

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vae.sampling_rate)

    @staticmethod
    def sites_of(transformer: nn.Module) -> list[Site]:
        """Sites of a ``StableAudioDiTModel`` (``attn2`` = text, ``attn1`` = self-attention)."""
        n = len(transformer.transformer_blocks)
        return dit_sites(n, "transformer_blocks.{}.attn2", "transformer_blocks.{}.attn1")

    def sites(self) -> list[Site]:
        return self.sites_of(self.denoiser)

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str]) -> PromptEncoding:
        tok = self.pipe.tokenizer
        return encode_text(tok, self.pipe.text_encoder, prompts, tok.model_max_length, self.pipe._execution_device)

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig) -> Audio:
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        negative = [config.negative_prompt] * len(prompts) if config.negative_prompt else None
        waves = self.pipe(
            list(prompts),
            audio_end_in_s=config.duration,
            num_inference_steps=config.steps,
            guidance_scale=config.guidance_scale,
            negative_prompt=negative,
            generator=[torch.Generator().manual_seed(int(s)) for s in seeds],
            output_type="np",
            **config.scheduler,
        ).audios
        return Audio(peak_limited(waves), self.sample_rate)
