"""The adapter interface every architecture implements, and what it returns."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from tada.errors import MissingCheckpointError, unknown_name
from tada.interventions import Edit, Record, intervene, stop_after
from tada.sites import Site, SiteRegistry


@dataclass(frozen=True)
class GenerationConfig:
    """How to sample: steps, classifier-free guidance, clip length and scheduler options."""

    steps: int = 50
    guidance_scale: float = 7.0
    duration: float | None = None
    negative_prompt: str | None = None
    scheduler: Mapping[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> GenerationConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class Audio:
    """A batch of waveforms, shape ``(batch, channels, samples)``, float32 in [-1, 1]."""

    waveforms: np.ndarray
    sample_rate: int

    def __len__(self) -> int:
        return len(self.waveforms)

    def mono(self) -> np.ndarray:
        """Channel-averaged waveforms, shape ``(batch, samples)``."""
        return self.waveforms.mean(axis=1)


@dataclass
class PromptEncoding:
    """Text-encoder outputs for a batch of prompts."""

    hidden_states: torch.Tensor
    attention_mask: torch.Tensor | None
    tokens: list[list[str]]

    def positions(self, index: int, word: str) -> list[int]:
        """Token positions of ``word`` (whole tokens, case-insensitive) in prompt ``index``."""
        w = word.lower()
        return [i for i, t in enumerate(self.tokens[index]) if t.lower().lstrip("▁Ġ#") == w]


class ModelAdapter(ABC):
    """A text-to-music model with named intervention sites.

    Subclasses set ``arch``, the generation presets of the reference, and implement loading,
    prompt encoding, generation and the site list; everything else is shared.
    """

    arch: ClassVar[str]
    #: kwargs through which text conditioning reaches a cross-attention module
    cond_kwargs: ClassVar[tuple[str, ...]] = ("encoder_hidden_states", "attention_mask")
    #: denoiser forward calls per diffusion step (2 where CFG runs cond and uncond separately)
    denoiser_calls_per_step: ClassVar[int] = 1
    #: reference generation settings, by use ("patching", "steering")
    generation_presets: ClassVar[dict[str, GenerationConfig]] = {}

    @classmethod
    @abstractmethod
    def from_pretrained(
        cls, path_or_id: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, cpu_offload: bool = False
    ) -> ModelAdapter:
        """Load from a local folder or a hub id."""

    @property
    @abstractmethod
    def denoiser(self) -> nn.Module:
        """The module that contains every site (a DiT or a UNet)."""

    @abstractmethod
    def sites(self) -> list[Site]:
        """Every attention layer where text enters, plus the self-attention layers."""

    @abstractmethod
    def encode_prompt(self, prompts: Sequence[str]) -> PromptEncoding:
        """Text-encoder outputs and tokens (for prompt-level methods)."""

    @abstractmethod
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig) -> Audio:
        """One clip per (prompt, seed); same seed and prompt give the same audio."""

    # shared behaviour ------------------------------------------------------------------------
    @property
    def step_module(self) -> nn.Module:
        """A module that runs once per denoiser call (to count calls); the denoiser by default."""
        return self.denoiser

    def registry(self, presets_dir: Path | None = None) -> SiteRegistry:
        """Resolver of this model's site and preset names."""
        return SiteRegistry(self.arch, self.sites(), presets_dir)

    def generation_config(self, use: str = "patching", **overrides: Any) -> GenerationConfig:
        """The reference settings for ``use``, with ``overrides`` applied."""
        if use not in self.generation_presets:
            raise unknown_name(f"generation preset of '{self.arch}'", use, self.generation_presets)
        return self.generation_presets[use].with_(**{k: v for k, v in overrides.items() if v is not None})

    @contextmanager
    def intervene(self, edits: Mapping[Site, Edit]) -> Iterator[None]:
        """Attach ``edits`` to their sites while the block runs."""
        with intervene(self.denoiser, edits, self.cond_kwargs):
            yield

    def record_conditioning(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, sites: Sequence[Site]
    ) -> dict[str, list[dict[str, torch.Tensor]]]:
        """What each site's cross-attention receives for ``prompts`` in one diffusion step.

        Text conditioning does not change across steps, so one step (one or two denoiser calls)
        is run and generation is stopped; the result is replayed by ``ReplaceConditioning``.
        """
        n = self.denoiser_calls_per_step
        parents = {s.module: Site(s.module, s.module) for s in sites}
        records = {m: Record(n_calls=n) for m in parents}
        with self.intervene({parents[m]: r for m, r in records.items()}), stop_after(self.step_module, n):
            self.generate(prompts, seeds, config)
        return {s.name: records[s.module].calls for s in sites}


def resolve_checkpoint(path_or_id: str | os.PathLike, *, what: str, how: str) -> str:
    """Check that a checkpoint is reachable before anything is built.

    A local path must exist. A hub id must be in the local cache when ``HF_HUB_OFFLINE=1``.
    ``what`` names the model, ``how`` says how to obtain it.
    """
    s = str(path_or_id)
    p = Path(s).expanduser()
    looks_local = p.exists() or s.startswith((".", "/", "~")) or s.count("/") != 1
    if looks_local:
        if not p.exists():
            raise MissingCheckpointError(f"{what} checkpoint not found at '{s}'. {how}")
        return str(p)
    if os.environ.get("HF_HUB_OFFLINE", "0") not in {"0", "false", "False", ""}:
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(s, local_files_only=True)
        except Exception as err:  # noqa: BLE001 - any miss means the same thing to the user
            raise MissingCheckpointError(
                f"{what} checkpoint '{s}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1. {how}"
            ) from err
    return s
