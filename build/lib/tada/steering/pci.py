"""PCI (prompt-conditioning interpolation): switch from the neutral to a target prompt late in sampling.

With integer ``alpha`` on an ``N``-step sampler the neutral prompt conditions the first ``N - |alpha|``
steps and the positive (``alpha > 0``) or negative (``alpha < 0``) prompt the last ``|alpha|``. The
target's conditioning is recorded at the target sites and replayed there from the switching step
(read from the step clock), so ``loc`` switches only the localized sites.

The reference's ``loc`` arm also fed the *neutral* encoding into the unconditional pass of every
other site (STEERING.md section 4); ``reference_loc=True`` reproduces that, the default leaves
the other sites untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tada.errors import ConfigError
from tada.interventions import Edit, ReplaceConditioning, StepWindow
from tada.models.base import GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.concepts import Concept
from tada.steering.controller import Controller

#: replay modes -> {pass of the running call: recorded pass it receives}
REPLAY_MODES: dict[str, dict[str, str]] = {
    "both": {"cond": "cond", "uncond": "uncond"},
    "cond_only": {"cond": "cond"},
    "uncond_only": {"uncond": "uncond"},
}


def check_alpha(alpha: float, steps: int) -> int:
    """``alpha`` as an int, checking it is a whole number of steps in ``[-steps, steps]``."""
    if alpha != int(alpha) or abs(alpha) > steps:
        raise ConfigError(f"PCI alpha must be an integer in [-{steps}, {steps}] (the sampling steps); got {alpha}")
    return int(alpha)


class PromptController(Controller):
    """A method that replays other prompts' conditioning at the target sites (PCI, TextEmb)."""

    def __init__(self, concept: Concept, reference_loc: bool = False, **kwargs: Any) -> None:
        self.reference_loc = reference_loc
        super().__init__(concept, **kwargs)

    def replay(
        self,
        adapter: ModelAdapter,
        target: dict[str, PassConditioning],
        window: StepWindow,
        neutral: list[str],
        seeds: list[int],
        config: GenerationConfig,
    ) -> dict[Site, Edit]:
        """Replay ``target`` at the target sites; with ``reference_loc`` the neutral into the other sites."""
        edits: dict[Site, Edit] = {
            s: ReplaceConditioning(target[s.name], window, REPLAY_MODES[self.mode]) for s in self.sites
        }
        others = [s for s in adapter.registry().layers if s not in self.sites]
        if self.reference_loc and others:
            base = self.record(adapter, ("neutral",), neutral, seeds, config, others)
            edits |= {s: ReplaceConditioning(base[s.name], window, {"cond": "cond", "uncond": "cond"}) for s in others}
        return edits

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "reference_loc": self.reference_loc}


class PCI(PromptController):
    """Prompt switching for the last ``|alpha|`` steps (alpha: a signed integer number of steps)."""

    method = "pci"
    modes = tuple(REPLAY_MODES)

    def generate(self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig):
        check_alpha(self.alpha, config.steps)
        return super().generate(adapter, prompts, seeds, config)

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        k = check_alpha(self.alpha, config.steps)
        triples = [self.concept.triple(p, self.method) for p in prompts]
        pole = 1 if k > 0 else 2
        target = self.record(adapter, (pole,), [t[pole] for t in triples], seeds, config, self.sites)
        neutral = [t[0] for t in triples]
        return self.replay(adapter, target, StepWindow(config.steps - abs(k)), neutral, seeds, config)
