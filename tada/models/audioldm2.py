"""AudioLDM2 behind the adapter interface (diffusers ``AudioLDM2Pipeline``).

Text enters the UNet through two conditionings, both via ``attn2`` of the transformer blocks inside
``{down,mid,up}_blocks.b.attentions.a``: the GPT-2-generated sequence (``encoder_hidden_states``)
and the Flan-T5 states with their mask (``encoder_hidden_states_1``). Attention modules built
without a cross-attention dimension are self-attention only and carry no text.

Site names follow the reference: ``up1tf5attn0`` = ``up_blocks.1.attentions.5.transformer_blocks.0.attn2``;
``up1tf5`` (both transformer blocks), ``up1``, ``mid``, ``down2`` resolve as groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AudioLDM2Pipeline
from torch import nn
from transformers import GPT2LMHeadModel

from tada.models.base import Audio, GenerationConfig, PromptEncoding
from tada.models.noise import ReferenceNoise
from tada.models.pipelines import NEGATIVE_PROMPT, PipelineAdapter, encode_text, leveled
from tada.models.structures import StructureConfig, build_on_meta, load_config
from tada.sites import Site

#: Flan-T5 length limit of the AudioLDM2 checkpoints' tokenizer
MAX_T5_TOKENS = 512


class AudioLDM2Adapter(PipelineAdapter):
    """AudioLDM2 (the reference used ``cvssp/audioldm2-large``); CFG batched as ``[uncond, cond]``.

    Each prompt is encoded on its own (CLAP, Flan-T5, GPT-2 generation, exactly as a one-prompt
    pipeline call) and the T5 states are padded, masked, to ``text_length`` tokens, so a clip does not
    depend on the other prompts of its batch and clean/corrupted conditionings have equal shapes.
    ``GenerationConfig.scheduler`` holds extra keyword arguments of the pipeline call.
    """

    arch = "audioldm2"
    denoiser_attr = "unet"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")
    #: the reference's settings: patching (``configs/patch_config/audioldm2.yaml``) with the negative prompt,
    #: 9 s clips and all noise from one generator seeded 222 on the model's device; steering without a
    #: negative prompt, 10 s clips, chunks of 8 prompts drawn from seed 2115 + chunk
    generation_presets = {
        "patching": GenerationConfig(
            steps=100, guidance_scale=4.5, duration=9.0, negative_prompt=NEGATIVE_PROMPT,
            reference_noise=ReferenceNoise(222, device="model"),
        ),
        "steering": GenerationConfig(
            steps=100, guidance_scale=4.5, duration=10.0, reference_noise=ReferenceNoise(2115, chunk=8, device="model")
        ),
    }

    def __init__(self, pipe: AudioLDM2Pipeline, text_length: int | None = None) -> None:
        super().__init__(pipe)
        self.text_length = text_length or min(pipe.tokenizer_2.model_max_length, MAX_T5_TOKENS)

    pipeline_class = AudioLDM2Pipeline
    checkpoint_name = "AudioLDM2"
    checkpoint_help = "Run `huggingface-cli download cvssp/audioldm2-large` (the reference's checkpoint) or pass a local folder."

    @classmethod
    def load_pipeline(cls, path: str, dtype: torch.dtype) -> AudioLDM2Pipeline:
        # the checkpoint stores GPT-2 as GPT2Model; with transformers 5 the pipeline's generation loop
        # needs the GenerationMixin helpers of the LM-head class (same weights, tied head)
        language_model = GPT2LMHeadModel.from_pretrained(path, subfolder="language_model", dtype=dtype)
        return AudioLDM2Pipeline.from_pretrained(path, language_model=language_model, dtype=dtype)

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vocoder.config.sampling_rate)

    @staticmethod
    def sites_of(unet: nn.Module) -> list[Site]:
        """Sites of an ``AudioLDM2UNet2DConditionModel``, in forward order (down, mid, up)."""
        blocks = [(f"down{i}", f"down_blocks.{i}", b) for i, b in enumerate(unet.down_blocks)]
        blocks += [("mid", "mid_block", unet.mid_block)]
        blocks += [(f"up{i}", f"up_blocks.{i}", b) for i, b in enumerate(unet.up_blocks)]
        sites: list[Site] = []
        for name, path, block in blocks:
            for a, transformer in enumerate(getattr(block, "attentions", None) or []):
                for t, tb in enumerate(transformer.transformer_blocks):
                    site, module = f"{name}tf{a}attn{t}", f"{path}.attentions.{a}.transformer_blocks.{t}"
                    if tb.attn2 is not None and tb.attn2.is_cross_attention:
                        sites += [
                            Site(site, f"{module}.attn2"),
                            Site(f"{site}k", f"{module}.attn2", projection="k"),
                            Site(f"{site}v", f"{module}.attn2", projection="v"),
                        ]
                    sites.append(Site(f"{site}self", f"{module}.attn1", kind="self"))
        return sites

    @classmethod
    def meta_denoiser(cls, config: StructureConfig | None = None) -> nn.Module:
        """The full-size UNet on the meta device (no weights): the shipped layout of cvssp/audioldm2-large,
        or ``config`` (a mapping, a ``config.json``, or a checkpoint folder with ``unet/config.json``)."""
        from diffusers import AudioLDM2UNet2DConditionModel

        return build_on_meta(AudioLDM2UNet2DConditionModel, load_config(config or "audioldm2_large", subfolder="unet"))

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        pipe = self.pipe
        return encode_text(pipe.tokenizer_2, pipe.text_encoder_2, prompts, self.text_length, pipe._execution_device)

    def draw_noise(self, n: int, generator: torch.Generator, config: GenerationConfig) -> torch.Tensor:
        """The pipeline's ``prepare_latents`` for ``n`` clips of ``config.duration`` s, called as the reference does."""
        vocoder = self.pipe.vocoder.config
        seconds_per_frame = float(np.prod(vocoder.upsample_rates)) / vocoder.sampling_rate
        scale = self.pipe.vae_scale_factor
        height = -(-int(config.duration / seconds_per_frame) // scale) * scale  # rounded up to the VAE's factor
        unet = self.denoiser.config
        return self.pipe.prepare_latents(n, unet.in_channels, height, self.pipe.dtype, generator.device, generator)

    def _conditioning(self, prompt: str, config: GenerationConfig, t5: PromptEncoding | None) -> list[torch.Tensor]:
        """T5 states, T5 mask and GPT-2 states of one prompt, rows ``[uncond, cond]`` under CFG.

        ``t5`` (this prompt's Flan-T5 encoding) replaces the conditional T5 states; the GPT-2 states
        still come from the prompt's text.
        """
        guided = config.guidance_scale > 1.0
        negative = [config.negative_prompt] if guided and config.negative_prompt else None
        device = self.pipe._execution_device
        states, mask, gpt = self.pipe.encode_prompt([prompt], device, 1, guided, negative_prompt=negative)
        pad = self.text_length - states.shape[1]
        if pad < 0:
            raise ValueError(f"{prompt!r} has {states.shape[1]} Flan-T5 tokens, more than text_length={self.text_length}")
        states, mask = F.pad(states, (0, 0, 0, pad)), F.pad(mask, (0, pad))
        if t5 is not None:
            states[-1], mask[-1] = t5.hidden_states[0].to(states), t5.attention_mask[0].to(mask)
        return [states, mask, gpt]

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        guided = config.guidance_scale > 1.0
        rows = (
            self._conditioning(p, config, None if prompt_embeds is None else prompt_embeds.row(i))
            for i, p in enumerate(prompts)
        )
        t5, mask, gpt = (torch.cat(parts) for parts in zip(*rows, strict=True))
        pos = slice(1, None, 2) if guided else slice(None)
        cond = {"prompt_embeds": t5[pos], "attention_mask": mask[pos], "generated_prompt_embeds": gpt[pos]}
        if guided:
            neg = slice(0, None, 2)
            cond |= {
                "negative_prompt_embeds": t5[neg],
                "negative_attention_mask": mask[neg],
                "negative_generated_prompt_embeds": gpt[neg],
            }
        waves = self.pipe(
            **cond,
            audio_length_in_s=config.duration,
            **self.call_kwargs(seeds, config),
        ).audios[:, None, :]
        return Audio(leveled(waves, config), self.sample_rate)
