"""Concept prompts: neutral captions and the same captions naming the concept or its counterpart."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from tada.errors import ConfigError, unknown_name
from tada.world.attributes import FAMILIES, SWAPS, VALUE_FAMILY, Attributes
from tada.world.captions import HELDOUT_TEMPLATES, caption


@dataclass(frozen=True)
class ConceptPrompts:
    """Aligned prompt lists of one concept: ``positive[i]`` and ``negative[i]`` edit ``neutral[i]``."""

    concept: str
    neutral: list[str]
    positive: list[str]
    negative: list[str]

    def __len__(self) -> int:
        return len(self.neutral)


def mini_concept_prompts(concept: str, n: int, seed: int = 0) -> ConceptPrompts:
    """``n`` held-out-template captions of the mini world for a concept value (``violin``, ``fast``...).

    The neutral caption leaves the concept's family out (``an instrument``, no tempo word...), the
    positive one names ``concept`` and the negative one its swap partner. The other families vary
    over their values and omission; distinct neutral captions are drawn without replacement.
    """
    if concept not in VALUE_FAMILY:
        raise unknown_name("mini-world concept", concept, VALUE_FAMILY)
    family = VALUE_FAMILY[concept]
    others = [f for f in FAMILIES if f != family]
    choices = list(itertools.product(HELDOUT_TEMPLATES, *[(*FAMILIES[f], None) for f in others]))
    if not 0 < n <= len(choices):
        raise ConfigError(f"concept '{concept}' has 1 to {len(choices)} distinct neutral prompts; asked for {n}")
    rows: dict[str, list[str]] = {"neutral": [], "positive": [], "negative": []}
    for i in np.random.default_rng(seed).permutation(len(choices))[:n]:
        template, *values = choices[i]
        chosen = {f: v for f, v in zip(others, values, strict=True) if v is not None}
        keep = {f: f in chosen for f in FAMILIES}
        attrs = Attributes(**{f: FAMILIES[f][0] for f in FAMILIES} | chosen)
        for role, value in (("neutral", concept), ("positive", concept), ("negative", SWAPS[concept])):
            rows[role].append(caption(attrs.with_value(value), template, keep | {family: role != "neutral"}))
    return ConceptPrompts(concept, **rows)
