"""AUSteer: per-step channel scores from the pairs' conditional cross-attention outputs, global top-k.

Compute: generate each positive and negative prompt with the same seed (pair ``i`` shares
``seeds[i]``), keep every target site's conditional output per step and position, and per (step, site,
channel) compare ``m = pos - neg`` over all pairs and positions: ``r+ = frac(m > 0)``,
``r- = frac(m < 0)``, ``beta = +max(r+, r-)`` if ``r+ >= r-`` else ``-max``. The artifact holds ``beta``
``[steps, width]`` per site (every site, computed once). ``weighting="difference"`` (not the reference's)
multiplies each beta by the channel's ``|mean(m)|`` over the mean of that over every site, step and channel:
the score is magnitude-free, so a channel that moves consistently but negligibly with the concept ranks
as high as one the concept drives (on mini the all-site arm then acted against the concept; README).
Apply: per step, rank ``|beta|`` over all (site, channel) entries of the *target* sites, keep a global
top-``k`` (stable sort: ties in target-site order, then channel; ``top_k`` None keeps all), and on the
conditional pass add ``alpha * beta * mask`` to every position, each position rescaled to its norm
before. ``loc`` ranks only the localized sites of the all-site artifact, as the reference does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from tada.errors import ConfigError, check_choice
from tada.models.base import GenerationConfig, ModelAdapter
from tada.steering.concepts import Concept
from tada.steering.controller import computed_on
from tada.steering.schedules import ActivationController

#: the reference's top-k per concept, (all sites, localized sites) on ACE-Step (STEERING.md)
REFERENCE_TOP_K: dict[str, tuple[int, int]] = {
    "piano": (2048, 4096),
    "mood": (1024, 5120),
    "tempo": (4096, 4096),
    "vocal_gender": (8192, 2048),
    "vocal_style": (8192, 5120),
    "guitar_electronic": (2048, 5120),
    "violin": (256, 2048),
    "rock_genre": (2048, 5120),
    "electronic_music": (4096, 2048),
}


def top_k_mask(scores: list[torch.Tensor], k: int | None) -> list[torch.Tensor]:
    """Masks keeping the ``k`` largest entries over the concatenated ``scores`` (stable: earlier wins ties)."""
    flat = torch.cat(scores)
    keep = torch.zeros_like(flat, dtype=torch.bool)
    order = torch.sort(flat, descending=True, stable=True).indices
    keep[order[: flat.numel() if k is None else k]] = True
    return list(keep.split([len(s) for s in scores]))


#: how a channel's score is weighted: the reference's sign consistency alone, or times its mean difference
WEIGHTINGS: tuple[str, ...] = ("sign", "difference")


class AUSteer(ActivationController):
    """Top-k channel steering on the conditional pass (alpha: the multiple of ``beta * mask`` added)."""

    method = "austeer"
    modes = ("cond_only",)
    compute_options: ClassVar[tuple[str, ...]] = ("weighting",)
    reference_values = {"top_k": REFERENCE_TOP_K}

    def __init__(self, concept: Concept, tensors: dict[str, torch.Tensor], meta: dict[str, Any], top_k: int | None = None, **kwargs: Any) -> None:
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ConfigError(f"AUSteer top_k must be a positive number of channels (or None: all); got {top_k}")
        self.top_k = top_k
        super().__init__(concept, tensors, meta, **kwargs)

    @classmethod
    def reference_option(cls, option: str, concept: str, arm: str | None) -> Any:
        """``top_k: reference``: the reference's k for the concept, its ``all`` value for the all-site arms
        (``all``, ``ablated``), its ``loc`` value for the localized ones (``loc``, ``random``)."""
        return super().reference_option(option, concept, arm)[0 if arm in ("all", "ablated") else 1]

    @classmethod
    def compute(
        cls,
        adapter: ModelAdapter,
        concept: Concept,
        seeds: Sequence[int] | None = None,
        config: GenerationConfig | None = None,
        target_layers: str = "all",
        batch_size: int = 16,
        weighting: str = "sign",
        **kwargs: Any,
    ) -> AUSteer:
        """Channel scores from ``concept``'s compute set (pair ``i`` uses ``seeds[i]``, default 10 for all):
        the reference's sign consistency (``weighting="sign"``) or that times the mean difference's size."""
        check_choice("AUSteer weighting", weighting, WEIGHTINGS)
        config = config or adapter.generation_config("steering")
        sites = adapter.registry().resolve(target_layers)
        seeds = list(seeds) if seeds is not None else [10] * len(concept.positive)
        plus: dict[str, torch.Tensor] = {}
        minus: dict[str, torch.Tensor] = {}
        summed: dict[str, torch.Tensor] = {}
        total: dict[str, int] = {}
        for start in range(0, len(concept.positive), batch_size):
            stop = start + batch_size
            rec = {
                pole: adapter.record_outputs(prompts[start:stop], seeds[start:stop], config, sites, keep=True)
                for pole, prompts in (("positive", concept.positive), ("negative", concept.negative))
            }
            for s in sites:
                pos = cond_outputs(rec["positive"][s.name].kept, config.steps)
                m = pos - cond_outputs(rec["negative"][s.name].kept, config.steps)
                m = m.reshape(config.steps, -1, m.shape[-1])
                plus[s.name] = plus.get(s.name, 0) + (m > 0).float().sum(1)
                minus[s.name] = minus.get(s.name, 0) + (m < 0).float().sum(1)
                summed[s.name] = summed.get(s.name, 0) + m.sum(1)
                total[s.name] = total.get(s.name, 0) + m.shape[1]
        tensors = {
            s.name: torch.where(plus[s.name] >= minus[s.name], plus[s.name], -minus[s.name]) / total[s.name]
            for s in sites
        }
        if weighting == "difference":
            size = {name: (summed[name] / total[name]).abs() for name in tensors}
            scale = torch.cat([v.flatten() for v in size.values()]).mean().clamp_min(1e-12)
            tensors = {name: beta * size[name] / scale for name, beta in tensors.items()}
        meta = computed_on(adapter, sites, config, concept) | {
            "seeds": seeds, "samples_per_step": total, "weighting": weighting,
        }
        return cls(concept, tensors, meta, target_layers=target_layers, **kwargs)

    def site_vectors(self) -> dict[str, torch.Tensor]:
        """``beta * mask`` on the conditional slot, the top-k taken per step over the target sites."""
        entries = sum(self.meta["widths"][s.name] for s in self.sites)
        if self.top_k is not None and self.top_k > entries:
            raise ConfigError(f"AUSteer top_k {self.top_k} exceeds the {entries} channels of the target sites")
        out = {s.name: torch.zeros(self.meta["steps"], 2, self.meta["widths"][s.name]) for s in self.sites}
        for step in range(self.meta["steps"]):
            betas = [self.tensors[s.name][step] for s in self.sites]
            for s, beta, mask in zip(self.sites, betas, top_k_mask([b.abs() for b in betas], self.top_k), strict=True):
                out[s.name][step, 0] = beta * mask
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "top_k": self.top_k}


def cond_outputs(kept: dict[tuple[int, str], list[torch.Tensor]], steps: int) -> torch.Tensor:
    """The conditional rows ``[steps, batch, ..., width]`` of a :class:`RecordOutput` with ``keep``."""
    missing = [step for step in range(steps) if (step, "cond") not in kept]
    if missing:
        raise ConfigError(f"no conditional pass was recorded at step(s) {missing}")
    return torch.stack([torch.cat(kept[(step, "cond")]) for step in range(steps)])
