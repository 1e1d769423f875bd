"""CAA (contrastive activation addition): per-step, per-site vectors added to cross-attention outputs.

Compute: generate the concept's positive and negative prompt sets with the same seeds, average each
target site's output per (step, pass) over prompts and positions, and keep ``unit(mean_pos - mean_neg)``
(``weighting="difference"``: the difference itself, as the original CAA of Rimsky et al.; every site is
then pushed in proportion to how much the concept moves it, not by the same unit step; AUSteer and SAE
have the option of the same name).
Apply: at the selected passes of every step, ``h += alpha * v[step, source pass]`` on every position,
then each position is rescaled to its original norm (``renorm``, as the reference's evaluation).
The CFG mode says which pass is edited with which pass's vectors (STEERING.md, CAA modes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from tada.errors import check_choice
from tada.models.base import GenerationConfig, ModelAdapter
from tada.steering.concepts import Concept
from tada.steering.controller import computed_on
from tada.steering.schedules import ActivationController

#: CFG mode -> {edited pass: pass whose vectors it receives}
CAA_MODES: dict[str, dict[str, str]] = {
    "cond_only": {"cond": "cond"},
    "both_cond": {"cond": "cond", "uncond": "cond"},
    "both": {"cond": "cond", "uncond": "cond"},
    "uncond_only": {"uncond": "uncond"},
    "uncond_for_cond": {"cond": "uncond"},
    "both_uncond": {"cond": "uncond", "uncond": "uncond"},
    "separate": {"cond": "cond", "uncond": "uncond"},
}
PASS_INDEX = {"cond": 0, "uncond": 1}
#: unit vectors per (step, site) (the reference) or the raw mean differences
WEIGHTINGS: tuple[str, ...] = ("unit", "difference")


def unit(v: torch.Tensor) -> torch.Tensor:
    """``v / |v|`` along the last axis (zero vectors stay zero)."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class CAA(ActivationController):
    """Contrastive activation addition at the target sites (artifact: vectors ``[steps, 2, width]`` per site;
    strength schedules and the random control: :mod:`tada.steering.schedules`)."""

    method = "caa"
    modes = tuple(CAA_MODES)
    compute_options: ClassVar[tuple[str, ...]] = ("weighting",)

    @property
    def sources(self) -> dict[str, str]:
        return CAA_MODES[self.mode]

    def site_vectors(self) -> dict[str, torch.Tensor]:
        return {s.name: self.tensors[s.name] for s in self.sites}

    @classmethod
    def compute(
        cls,
        adapter: ModelAdapter,
        concept: Concept,
        seeds: Sequence[int] | None = None,
        config: GenerationConfig | None = None,
        target_layers: str = "all",
        batch_size: int = 16,
        weighting: str = "unit",
        **kwargs: Any,
    ) -> CAA:
        """Vectors from ``concept``'s compute set on ``adapter`` (prompt ``i`` of both poles uses ``seeds[i]``):
        unit vectors (``weighting="unit"``, the reference's) or the raw mean differences (``"difference"``)."""
        check_choice("CAA weighting", weighting, WEIGHTINGS)
        config = config or adapter.generation_config("steering")
        sites = adapter.registry().resolve(target_layers)
        seeds = list(seeds) if seeds is not None else [10] * len(concept.positive)
        means = {}
        for pole, prompts in (("positive", concept.positive), ("negative", concept.negative)):
            sums: dict[str, torch.Tensor] = {}
            for start in range(0, len(prompts), batch_size):
                batch, bseeds = prompts[start : start + batch_size], seeds[start : start + batch_size]
                records = adapter.record_outputs(batch, bseeds, config, sites)
                for name, rec in records.items():
                    stacked = stack_passes(rec.means(), config.steps) * len(batch)
                    sums[name] = sums.get(name, 0) + stacked
            means[pole] = {k: v / len(prompts) for k, v in sums.items()}
        diffs = {s.name: means["positive"][s.name] - means["negative"][s.name] for s in sites}
        tensors = {name: unit(d) if weighting == "unit" else d for name, d in diffs.items()}
        meta = computed_on(adapter, sites, config, concept) | {
            "passes": list(PASS_INDEX),
            "seeds": seeds,
            "weighting": weighting,
            "mean_output_norm": {s.name: float(means["positive"][s.name].norm(dim=-1).mean()) for s in sites},
        }
        return cls(concept, tensors, meta, target_layers=target_layers, **kwargs)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "artifact": {k: self.meta[k] for k in ("arch", "steps", "sites")}}


def stack_passes(means: dict[tuple[int, str], torch.Tensor], steps: int) -> torch.Tensor:
    """``[steps, 2, width]`` from per-(step, pass) means; a pass that never ran (no CFG) stays zero."""
    width = next(iter(means.values())).shape[-1]
    out = torch.zeros(steps, len(PASS_INDEX), width)
    for (step, pass_name), v in means.items():
        if pass_name in PASS_INDEX and step < steps:
            out[step, PASS_INDEX[pass_name]] = v
    return out
