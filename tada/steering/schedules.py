"""Activation methods: strength schedules over the diffusion steps and the random-direction control.

An activation method (CAA, AUSteer) adds ``alpha * w(step) * v[site, step, pass]`` to the output of
each target site, then rescales every position to its norm before (``renorm``). ``w`` is the
schedule: ``constant`` (1 inside the step window ``[start_step, end_step)``, 0 outside; ``window`` is
the same), ``ramp_up`` (linear ``1/n .. 1`` over the window's ``n`` steps) or ``ramp_down``
(``1 .. 1/n``). Steps where ``w`` is 0 are left untouched (bit-identical to unsteered).

``random_control=True`` replaces every vector by a random direction of the same norm per (site,
step, pass), seeded by ``random_seed``: the control a concept direction is compared with.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import torch

from tada.errors import check_choice
from tada.interventions import Edit, SteerOutput, StepWindow
from tada.models.base import Audio, GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.concepts import Concept
from tada.steering.controller import ArtifactController

SCHEDULES: tuple[str, ...] = ("constant", "window", "ramp_up", "ramp_down")
PASS_INDEX = {"cond": 0, "uncond": 1}


def schedule_weight(kind: str, window: StepWindow, step: int, steps: int) -> float:
    """The multiplier of alpha at ``step`` (0 outside the window)."""
    if step not in window:
        return 0.0
    end = steps if window.end is None else window.end
    n, i = end - window.start, step - window.start
    if kind == "ramp_up":
        return (i + 1) / n
    if kind == "ramp_down":
        return (n - i) / n
    return 1.0


def renormed(h: torch.Tensor, shift: torch.Tensor, renorm: bool) -> torch.Tensor:
    """``h + shift`` on every position, rescaled to each position's norm before (``renorm``)."""
    steered = h + shift.to(h)
    if not renorm:
        return steered
    return steered * (h.norm(dim=-1, keepdim=True) / steered.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def random_like(vectors: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Gaussian directions with the norm of each vector along the last axis (sites in the given order)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, v in vectors.items():
        r = torch.randn(v.shape, generator=generator, dtype=torch.float32)
        out[name] = r / r.norm(dim=-1, keepdim=True) * v.float().norm(dim=-1, keepdim=True)
    return out


class ActivationController(ArtifactController):
    """An additive method on site outputs, with a strength schedule and a random-direction control.

    Subclasses may say which pass of a call is edited with which pass's vectors (``sources``) and build
    the per-unit-alpha vectors of the target sites (:meth:`site_vectors`, ``[steps, 2, width]``).
    """

    def __init__(
        self,
        concept: Concept,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        renorm: bool = True,
        schedule: str = "constant",
        random_control: bool = False,
        random_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        check_choice("schedule", schedule, SCHEDULES)
        self.renorm, self.schedule = renorm, schedule
        self.random_control, self.random_seed = random_control, random_seed
        self.vectors: dict[str, torch.Tensor] = {}
        super().__init__(concept, tensors, meta, **kwargs)

    @property
    def sources(self) -> dict[str, str]:
        """Edited pass -> the pass whose vectors it receives (default: the conditional pass, its own)."""
        return {"cond": "cond"}

    @abstractmethod
    def site_vectors(self) -> dict[str, torch.Tensor]:
        """Per-unit-alpha vectors ``[steps, 2, width]`` of every target site (after :meth:`bind`)."""

    def bind(self, adapter: ModelAdapter) -> None:
        super().bind(adapter)
        vectors = self.site_vectors()
        self.vectors = random_like(vectors, self.random_seed) if self.random_control else vectors

    @property
    def window(self) -> StepWindow:
        return StepWindow(self.start_step, self.end_step)

    def check_steps(self, config: GenerationConfig) -> None:
        super().check_steps(config)
        if self.end_step is not None or self.start_step:
            self.window.check(config.steps)

    def generate(self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig) -> Audio:
        self.check_steps(config)
        return super().generate(adapter, prompts, seeds, config)

    def shift(self, site: str, step: int, pass_name: str, steps: int) -> torch.Tensor | None:
        """What is added at ``site`` in ``pass_name`` of ``step`` (None: nothing, the output is untouched)."""
        weight = schedule_weight(self.schedule, self.window, step, steps)
        if weight == 0 or self.alpha == 0 or pass_name not in self.sources:
            return None
        return (self.alpha * weight) * self.vectors[site][step, PASS_INDEX[self.sources[pass_name]]]

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        def steer(site: str):
            def fn(h: torch.Tensor, step: int, pass_name: str) -> torch.Tensor:
                shift = self.shift(site, step, pass_name, config.steps)
                return h if shift is None else renormed(h, shift, self.renorm)

            return fn

        return {s: SteerOutput(steer(s.name), tuple(self.sources), self.window) for s in self.sites}

    def describe(self) -> dict[str, Any]:
        extra = {"renorm": self.renorm, "schedule": self.schedule, "random_control": self.random_control}
        if self.random_control:
            extra["random_seed"] = self.random_seed
        return {**super().describe(), **extra}
