"""Helpers shared by the adapters of diffusers-based pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from tada.models.base import GenerationConfig, ModelAdapter, PromptEncoding, resolve_checkpoint

#: negative prompt of the reference's Stable Audio and AudioLDM2 runs
NEGATIVE_PROMPT = "Low quality, average quality."


def peak_limited(waves: np.ndarray) -> np.ndarray:
    """Float32 clips scaled down, each on its own, to peak at most 1 (quieter clips are left as they are)."""
    return (waves / np.maximum(1.0, np.abs(waves).max(axis=(1, 2), keepdims=True))).astype(np.float32)


def leveled(waves: np.ndarray, config: GenerationConfig) -> np.ndarray:
    """A generated batch at its output level: each clip peak-limited on its own, or, under
    ``loudness: reference`` where the reference's run does so (``config.batch_peak``), the whole batch
    divided by its own peak, as the reference's Stable Audio patching does (a clip's level then depends
    on the loudest clip of its batch)."""
    if config.loudness == "reference" and config.batch_peak:
        return (waves / np.abs(waves).max()).astype(np.float32)
    return peak_limited(waves)


def encode_text(
    tokenizer: PreTrainedTokenizerBase, encoder: nn.Module, prompts: Sequence[str], length: int, device: torch.device
) -> PromptEncoding:
    """Encoder states of ``prompts`` padded to ``length`` tokens, with the tokens themselves."""
    inputs = tokenizer(list(prompts), padding="max_length", max_length=length, truncation=True, return_tensors="pt")
    ids, mask = inputs.input_ids.to(device), inputs.attention_mask.to(device)
    hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    kept = (row[m.bool()].tolist() for row, m in zip(inputs.input_ids, inputs.attention_mask, strict=True))
    return PromptEncoding(hidden, mask, [tokenizer.convert_ids_to_tokens(k) for k in kept])


def place(pipe: Any, device: str, cpu_offload: bool) -> Any:
    """Move a pipeline to ``device``, or let it offload its models to the CPU between uses."""
    if cpu_offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class PipelineAdapter(ModelAdapter):
    """An adapter wrapping a diffusers pipeline whose denoiser is the attribute ``denoiser_attr``.

    Subclasses name the pipeline class and how to obtain a checkpoint (``checkpoint_name``,
    ``checkpoint_help``); loading, placement and the pipeline call's shared arguments live here.
    """

    denoiser_attr = "transformer"
    pipeline_class: ClassVar[type]
    checkpoint_name: ClassVar[str]
    checkpoint_help: ClassVar[str]

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def from_pretrained(
        cls, path_or_id: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, cpu_offload: bool = False
    ) -> PipelineAdapter:
        path = resolve_checkpoint(path_or_id, what=cls.checkpoint_name, how=cls.checkpoint_help)
        return cls(place(cls.load_pipeline(path, dtype), device, cpu_offload))

    @classmethod
    def load_pipeline(cls, path: str, dtype: torch.dtype) -> Any:
        """The pipeline of a local checkpoint folder or cached hub id."""
        return cls.pipeline_class.from_pretrained(path, dtype=dtype)

    def call_kwargs(self, seeds: Sequence[int], config: GenerationConfig) -> dict[str, Any]:
        """Pipeline-call arguments every adapter passes: steps, guidance, the noise (per-clip generators, or
        the reference's latents under ``noise: reference``), the step clock."""
        latents = self.initial_noise(seeds, config)
        noise: dict[str, Any] = {"generator": self.generators(seeds)}
        if latents is not None:
            spec = config.reference_noise
            noise = {"latents": latents, "generator": spec.generator(min(seeds), config.noise_rows, self.noise_device)}
        return {
            "num_inference_steps": config.steps,
            "guidance_scale": config.guidance_scale,
            **noise,
            "output_type": "np",
            "callback": self._tick,
            "callback_steps": 1,
            **config.scheduler,
        }

    @property
    def denoiser(self) -> nn.Module:
        return getattr(self.pipe, self.denoiser_attr)

    @property
    def noise_device(self) -> torch.device:
        return torch.device(self.pipe._execution_device)
