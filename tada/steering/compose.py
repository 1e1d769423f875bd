"""Multi-concept steering: several activation controllers in one ``model.steer(a, b, ...)``.

Activation methods (CAA, AUSteer and their random controls) add a vector to site outputs, so several
compose as a signed sum: at each site and step, ``h + sum_i alpha_i w_i(step) v_i`` is rescaled to each
position's norm before (once, when the controllers renormalise). The generated prompt is the neutral
of every concept in turn. Methods that replace the conditioning, generate their own prompts or run extra
denoiser passes (PCI, TextEmb, TokEmb, FreeSliders, ...) do not compose and are refused before any work.
A sweep over a composite changes the alpha of the first controller; the others keep theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from tada.errors import ConfigError
from tada.interventions import Edit, SteerOutput
from tada.models.base import Audio, GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.controller import Controller
from tada.steering.schedules import ActivationController, renormed


class Composite(Controller):
    """A signed sum of activation controllers (``alpha`` is the first controller's)."""

    method = "composite"

    def __init__(self, controllers: Sequence[Controller]) -> None:
        controllers = list(controllers)
        if not controllers:
            raise ConfigError("multi-concept steering needs at least one controller")
        refused = [c.method for c in controllers if not isinstance(c, ActivationController)]
        if refused:
            raise ConfigError(
                f"{', '.join(sorted(set(refused)))} cannot be composed with other controllers: only activation "
                "methods (caa, austeer and their random controls) add to site outputs and compose as a signed sum; "
                "the others replace the conditioning, generate their own prompts or add denoiser passes"
            )
        if len({c.renorm for c in controllers}) > 1:  # type: ignore[attr-defined]
            raise ConfigError("composed controllers must agree on renorm (the sum is renormalised once)")
        self.controllers: list[ActivationController] = controllers  # type: ignore[assignment]
        self.concept = controllers[0].concept
        self.sites: list[Site] = []

    @property
    def alpha(self) -> float:
        return self.controllers[0].alpha

    def set_alpha(self, alpha: float) -> None:
        self.controllers[0].set_alpha(alpha)

    def bind(self, adapter: ModelAdapter) -> None:
        for c in self.controllers:
            c.bind(adapter)
        self.sites = list(dict.fromkeys(s for c in self.controllers for s in c.sites))

    def neutral(self, prompt: str) -> str:
        for c in self.controllers:
            prompt = c.neutral(prompt)
        return prompt

    def generate(self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig) -> Audio:
        for c in self.controllers:
            c.check_steps(config)
        neutral = [self.neutral(p) for p in prompts]
        if all(c.alpha == 0 for c in self.controllers):
            return adapter.sample(neutral, seeds, config)
        with adapter.intervene(self.edits(adapter, prompts, seeds, config)):
            return adapter.sample(neutral, seeds, config)

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        renorm = self.controllers[0].renorm

        def steer(site: Site, members: list[ActivationController]):
            def fn(h: torch.Tensor, step: int, pass_name: str) -> torch.Tensor:
                shifts = [s for c in members if (s := c.shift(site.name, step, pass_name, config.steps)) is not None]
                return h if not shifts else renormed(h, torch.stack(shifts).sum(0), renorm)

            return fn

        edits: dict[Site, Edit] = {}
        for site in self.sites:
            members = [c for c in self.controllers if site in c.sites]
            passes = tuple(dict.fromkeys(p for c in members for p in c.sources))
            edits[site] = SteerOutput(steer(site, members), passes)
        return edits

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "controllers": [c.describe() for c in self.controllers]}


def compose(*controllers: Controller) -> Controller:
    """One controller steering with all of ``controllers`` (itself when there is one)."""
    return controllers[0] if len(controllers) == 1 else Composite(controllers)
