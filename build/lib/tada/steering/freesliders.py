"""FreeSliders: steer in score space with extra conditional denoiser passes.

Every step from ``start_step`` (the reference's split step, 0 in its evaluation), the denoiser is run
again on the conditional rows with the positive and with the negative prompt's conditioning at the
target sites (every other site keeps the neutral's), and ``alpha * (e_pos - e_neg)`` is added to every
row of the step's prediction. Guidance is linear in a shift added to all its inputs (CFG
``u + g (c - u)``, and APG, which projects only ``c - u``), so the guided prediction moves by exactly
``alpha * (e_pos - e_neg)``, as in the reference's own loop. Each steered step costs two extra
conditional passes (``ScoreShift.extra_rows`` counts their rows; ``benchmarks/steering.py`` times them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from tada.errors import ConfigError
from tada.interventions import (
    Edit,
    HookContext,
    ReplaceConditioning,
    StepWindow,
    intervene,
    main_tensor,
    with_main_tensor,
)
from tada.models.base import GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.controller import Controller

DENOISER = Site("denoiser", "")


def rows_of_call(args: tuple, kwargs: dict, rows: slice, total: int) -> tuple[tuple, dict]:
    """The arguments of a denoiser call restricted to ``rows`` (tensors with one row per sample)."""

    def cut(v: Any) -> Any:
        return v[rows] if isinstance(v, torch.Tensor) and v.shape[:1] == (total,) else v

    return tuple(cut(a) for a in args), {k: cut(v) for k, v in kwargs.items()}


@dataclass
class ScoreShift(Edit):
    """Add ``alpha * (e_pos - e_neg)`` to a denoiser's output, the two from extra conditional passes."""

    positive: dict[Site, Edit]
    negative: dict[Site, Edit]
    alpha: float
    window: StepWindow = field(default_factory=StepWindow)
    extra_rows: int = 0

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        busy = [False]

        def hook(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            if busy[0] or ctx.clock.extra or ctx.clock.step not in self.window:
                return None
            h = main_tensor(output)
            passes = ctx.clock.passes(h.shape[0])
            if "cond" not in passes:
                return None
            a, k = rows_of_call(args, kwargs, passes["cond"], h.shape[0])
            busy[0] = True
            try:
                with ctx.clock.extra_pass():
                    with intervene(mod, self.positive, ctx):
                        e_pos = main_tensor(mod(*a, **k))
                    with intervene(mod, self.negative, ctx):
                        e_neg = main_tensor(mod(*a, **k))
            finally:
                busy[0] = False
            self.extra_rows += 2 * e_pos.shape[0]
            shift = self.alpha * (e_pos - e_neg)
            new = h.clone()
            for sl in passes.values():
                new[sl] = new[sl] + shift
            return with_main_tensor(output, new)

        return [module.register_forward_hook(hook, with_kwargs=True)]


class FreeSliders(Controller):
    """Score-space sliders (alpha: the multiple of ``e_pos - e_neg`` added to each step's prediction)."""

    method = "freesliders"

    def check(self, adapter: ModelAdapter) -> None:
        if adapter.no_score_access:
            raise ConfigError(f"FreeSliders cannot run on '{adapter.arch}': {adapter.no_score_access}")

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        triples = [self.concept.triple(p, self.method) for p in prompts]
        pos = self.record(adapter, ("positive",), [t[1] for t in triples], seeds, config, self.sites)
        neg = self.record(adapter, ("negative",), [t[2] for t in triples], seeds, config, self.sites)
        only_cond = {"extra": "cond"}
        self.shift = ScoreShift(
            {s: ReplaceConditioning(pos[s.name], source=only_cond) for s in self.sites},
            {s: ReplaceConditioning(neg[s.name], source=only_cond) for s in self.sites},
            self.alpha,
            StepWindow(self.start_step, self.end_step),
        )
        return {DENOISER: self.shift}
