"""The adapter interface every architecture implements, and what it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from tada.errors import ConfigError, TadaError, unknown_name
from tada.interventions import (
    CFGLayout,
    Edit,
    HookContext,
    PassConditioning,
    Record,
    RecordOutput,
    StepClock,
    StopForward,
    get_module,
    intervene,
)
from tada.models.noise import NOISE_MODES, ReferenceNoise
from tada.resources import resolve_checkpoint  # noqa: F401  (re-exported for the adapters)
from tada.sites import Site, SiteRegistry

if TYPE_CHECKING:
    from tada.models.nnsight import NNsightDenoiser


#: ``per_clip``: batch-independent clip levels; ``reference``: the reference's normalization of this use
LOUDNESS_MODES = ("per_clip", "reference")


@dataclass(frozen=True)
class GenerationConfig:
    """How to sample: steps, classifier-free guidance, clip length and scheduler options."""

    steps: int = 50
    guidance_scale: float = 7.0
    duration: float | None = None
    negative_prompt: str | None = None
    scheduler: Mapping[str, Any] = field(default_factory=dict)
    #: lyrics of architectures that take them: one string for every prompt, or one per prompt
    lyrics: str | tuple[str, ...] = ""
    #: ``per_clip`` (one generator per clip seed) or ``reference`` (see :mod:`tada.models.noise`)
    noise: str = "per_clip"
    #: how the reference draws this use's noise (``noise: reference``); None where it has no run
    reference_noise: ReferenceNoise | None = None
    #: clips in the reference's run (the size of its draw) under ``noise: reference``
    noise_rows: int | None = None
    #: ``per_clip`` (each clip scaled down only if it peaks above 1) or ``reference`` (as the reference's run)
    loudness: str = "per_clip"
    #: the reference's run divides each generated batch by the batch's own peak (``loudness: reference``)
    batch_peak: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.lyrics, list):
            object.__setattr__(self, "lyrics", tuple(self.lyrics))
        if self.noise not in NOISE_MODES:
            raise unknown_name("noise mode", self.noise, NOISE_MODES)
        if self.loudness not in LOUDNESS_MODES:
            raise unknown_name("loudness mode", self.loudness, LOUDNESS_MODES)

    def with_(self, **changes: Any) -> GenerationConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def lyrics_for(self, n: int) -> list[str]:
        """The lyrics of each of ``n`` prompts."""
        if isinstance(self.lyrics, str):
            return [self.lyrics] * n
        if len(self.lyrics) != n:
            raise ConfigError(f"got {len(self.lyrics)} lyrics for {n} prompts (give one string or one per prompt)")
        return list(self.lyrics)


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

    def row(self, index: int) -> PromptEncoding:
        """The encoding of prompt ``index`` alone."""
        mask = None if self.attention_mask is None else self.attention_mask[index : index + 1]
        return PromptEncoding(self.hidden_states[index : index + 1], mask, [self.tokens[index]])

    def positions(self, index: int, word: str) -> list[int]:
        """Token positions of ``word`` (whole tokens, case-insensitive) in prompt ``index``."""
        w = word.lower()
        return [i for i, t in enumerate(self.tokens[index]) if t.lower().lstrip("▁Ġ#") == w]


class ModelAdapter(ABC):
    """A text-to-music model with named intervention sites.

    Subclasses set ``arch``, ``cfg_layout``, the generation presets of the reference, and implement
    loading, prompt encoding, sampling (:meth:`_sample`, which drives :attr:`clock`) and the site
    list; everything else is shared: input checks, interventions, recording, steering.
    """

    arch: ClassVar[str]
    #: kwargs through which text conditioning reaches a cross-attention module
    cond_kwargs: ClassVar[tuple[str, ...]] = ("encoder_hidden_states", "attention_mask")
    #: how the denoiser's calls of one step hold the CFG passes (see :mod:`tada.interventions.clock`)
    cfg_layout: ClassVar[CFGLayout] = "uncond_cond"
    #: reference generation settings, by use ("patching", "steering")
    generation_presets: ClassVar[dict[str, GenerationConfig]] = {}
    #: why score-level access (extra denoiser passes) is unavailable, if it is
    no_score_access: ClassVar[str | None] = None
    #: True where the sampling loop calls ``clock.begin_call`` itself (no hook on the denoiser)
    counts_own_calls: ClassVar[bool] = False

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

    @staticmethod
    @abstractmethod
    def sites_of(denoiser: nn.Module) -> list[Site]:
        """Every attention layer of ``denoiser`` where text enters, plus the self-attention layers."""

    def sites(self) -> list[Site]:
        """The sites of this model's denoiser."""
        return self.sites_of(self.denoiser)

    @classmethod
    def meta_denoiser(cls, config: Any = None) -> nn.Module:
        """The full-size denoiser on the meta device (no weights), from a shipped or given config."""
        raise TadaError(f"no full-size structure ships for '{cls.arch}'")

    @classmethod
    def structure_sites(cls, config: Any = None) -> list[Site]:
        """Every site of the full-size model (see :meth:`meta_denoiser`), known before any weights load."""
        return cls.sites_of(cls.meta_denoiser(config))

    @abstractmethod
    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        """Text-encoder outputs and tokens (for prompt-level methods); ``config`` where the text depends on it."""

    @abstractmethod
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        """Sample one clip per (prompt, seed), calling :meth:`_tick` after every scheduler step.

        ``prompt_embeds`` (text-encoder outputs of the prompts) replaces the encoding of ``prompts``.
        """

    # shared behaviour ------------------------------------------------------------------------
    @property
    def clock(self) -> StepClock:
        """The step clock of this model's sampling loop."""
        if "_clock" not in self.__dict__:
            self._clock = StepClock(self.cfg_layout)
        return self._clock

    def _tick(self, *_args: Any) -> None:
        """Step callback of the sampling loop (diffusers' ``callback(step, t, latents)`` signature)."""
        self.clock.tick()

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        config: GenerationConfig | None = None,
        prompt_embeds: PromptEncoding | None = None,
    ) -> Audio:
        """One clip per (prompt, seed); same seed and prompt give the same audio.

        Under :meth:`steer`, the active controller builds what is generated from ``prompts``.
        """
        config = config or self.generation_config("steering")
        self.check_inputs(prompts, seeds, prompt_embeds)
        controller = self.__dict__.get("_controller")
        if controller is not None and prompt_embeds is None:
            return controller.generate(self, list(prompts), list(seeds), config)
        return self.sample(prompts, seeds, config, prompt_embeds)

    def sample(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        config: GenerationConfig,
        prompt_embeds: PromptEncoding | None = None,
    ) -> Audio:
        """Sampling with the clock running (what :meth:`generate` does without a controller)."""
        if config.noise == "reference" and config.reference_noise is None:
            raise ConfigError(f"'{self.arch}' has no reference run to draw noise like; use noise: per_clip")
        clock = self.clock
        clock.start(len(prompts), config.steps)
        handle = None if self.counts_own_calls else self.denoiser.register_forward_pre_hook(lambda *_: clock.begin_call())
        try:
            return self._sample(prompts, seeds, config, prompt_embeds)
        finally:
            if handle is not None:
                handle.remove()
            clock.stop()

    def check_inputs(
        self, prompts: Sequence[str], seeds: Sequence[int], prompt_embeds: PromptEncoding | None = None
    ) -> None:
        """Raise before any work if prompts, seeds and embeddings do not match."""
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not one string")
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        if prompt_embeds is not None and prompt_embeds.hidden_states.shape[0] != len(prompts):
            raise ValueError(
                f"prompt_embeds holds {prompt_embeds.hidden_states.shape[0]} prompts, not {len(prompts)}"
            )

    @staticmethod
    def generators(seeds: Sequence[int]) -> list[torch.Generator]:
        """One CPU generator per clip: a clip's noise does not depend on its batch."""
        return [torch.Generator().manual_seed(int(s)) for s in seeds]

    def initial_noise(self, seeds: Sequence[int], config: GenerationConfig) -> torch.Tensor | None:
        """Under ``noise: reference``, rows ``seeds`` of the reference's draw; None for per-clip seeds."""
        if config.noise == "per_clip":
            return None
        if config.reference_noise is None:
            raise ConfigError(f"'{self.arch}' has no reference run to draw noise like; use noise: per_clip")
        cache = self.__dict__.setdefault("_noise_cache", {})
        draw = partial(self.draw_noise, config=config)
        return config.reference_noise.rows(seeds, config.noise_rows, draw, self.noise_device, cache, config.duration)

    def draw_noise(self, n: int, generator: torch.Generator, config: GenerationConfig) -> torch.Tensor:
        """``n`` initial latents drawn from ``generator`` exactly as the reference draws them."""
        raise ConfigError(f"'{self.arch}' has no reference run to draw noise like; use noise: per_clip")

    @property
    def noise_device(self) -> torch.device:
        """Where the model runs (the device of reference generators placed on the model's device)."""
        return next(self.denoiser.parameters()).device

    def registry(self, presets_dir: Path | None = None) -> SiteRegistry:
        """Resolver of this model's site and preset names."""
        return SiteRegistry(self.arch, self.sites(), presets_dir)

    def site_width(self, site: Site) -> int:
        """Channels of a site's output."""
        module = get_module(self.denoiser, site.module)
        return int(module.to_out[0].out_features)

    def generation_config(self, use: str = "patching", **overrides: Any) -> GenerationConfig:
        """The reference settings for ``use``, with ``overrides`` applied."""
        if use not in self.generation_presets:
            raise unknown_name(f"generation preset of '{self.arch}'", use, self.generation_presets)
        return self.generation_presets[use].with_(**{k: v for k, v in overrides.items() if v is not None})

    @property
    def hook_context(self) -> HookContext:
        return HookContext(self.clock, self.cond_kwargs)

    @contextmanager
    def intervene(self, edits: Mapping[Site, Edit]) -> Iterator[None]:
        """Attach ``edits`` to their sites while the block runs (``Site("denoiser", "")`` is the denoiser)."""
        with intervene(self.denoiser, edits, self.hook_context):
            yield

    @contextmanager
    def steer(self, controller: Any, *more: Any) -> Iterator[Any]:
        """Steer every :meth:`generate` inside the block with ``controller`` (several: their signed sum,
        :mod:`tada.steering.compose`).

        The controller is checked against this model first (arch, sites, widths, steps); leaving the
        block removes every hook, also after an exception. Nesting is refused.
        """
        if self.__dict__.get("_controller") is not None:
            raise TadaError(
                f"steer() is already active with {type(self._controller).__name__}; nested steering is not "
                "supported: leave the first block, or pass several controllers to one steer()"
            )
        if more:
            from tada.steering.compose import compose

            controller = compose(controller, *more)
        controller.bind(self)
        self._controller = controller
        try:
            yield controller
        finally:
            self._controller = None

    def nnsight(self) -> NNsightDenoiser:
        """The denoiser wrapped with ``nnsight.NNsight``, envoys addressed by site name (:mod:`tada.models.nnsight`)."""
        from tada.models.nnsight import nnsight_denoiser

        return nnsight_denoiser(self)

    def record_conditioning(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        config: GenerationConfig,
        sites: Sequence[Site],
        prompt_embeds: PromptEncoding | None = None,
    ) -> dict[str, PassConditioning]:
        """What each site's cross-attention receives for ``prompts``, per CFG pass, in the first step.

        Text conditioning does not change across steps, so one step is run and generation is
        stopped; the result is replayed by ``ReplaceConditioning``.
        """
        self.check_inputs(prompts, seeds, prompt_embeds)
        parents = {s.module: Site(s.module, s.module) for s in sites}
        records = {m: Record() for m in parents}
        with self.intervene({parents[m]: r for m, r in records.items()}), self._stop_after_first_step():
            self.sample(prompts, seeds, config, prompt_embeds)
        return {s.name: records[s.module].passes for s in sites}

    @contextmanager
    def _stop_after_first_step(self) -> Iterator[None]:
        clock, tick = self.clock, self._tick

        def stop(*_args: Any) -> None:
            raise StopForward

        self._tick = stop  # type: ignore[method-assign]
        try:
            yield
        except StopForward:
            pass
        finally:
            self._tick = tick  # type: ignore[method-assign]
            clock.stop()

    def record_outputs(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        config: GenerationConfig,
        sites: Sequence[Site],
        keep: bool = False,
    ) -> dict[str, RecordOutput]:
        """Each site's output per (step, pass) over a whole generation of ``prompts``."""
        records = {s.name: RecordOutput(keep=keep) for s in sites}
        with self.intervene({s: records[s.name] for s in sites}):
            self.generate(prompts, seeds, config)
        return records
