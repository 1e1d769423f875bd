"""Natural-language captions of the synthetic world and its counterfactual prompt pairs.

Captions come from varied templates, so words, not positions, carry the concepts. Each attribute
is sometimes left out (``omit``), which gives the neutral prompts steering needs. Training and
held-out evaluation use disjoint template sets.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tada.world.attributes import FAMILIES, SWAPS, Attributes

TRAIN_TEMPLATES = (
    "a {adj} {inst} melody{reg}",
    "{inst} playing a {adj} tune{reg}",
    "{adj} music on {inst}{reg}",
    "a {adj} piece with {inst}{reg}",
    "{inst} solo, {adj}{reg}",
    "this is a {adj} song featuring {inst}{reg}",
)
HELDOUT_TEMPLATES = (
    "a recording of {inst}, {adj}{reg}",
    "an {adj} track where {inst} plays{reg}",
)
GENERIC_INSTRUMENT = "an instrument"


def caption(attrs: Attributes, template: str, keep: dict[str, bool]) -> str:
    """Fill ``template`` with the attributes whose ``keep`` flag is set."""
    adjs = [getattr(attrs, f) for f in ("mood", "tempo") if keep[f]]
    inst = attrs.instrument if keep["instrument"] else GENERIC_INSTRUMENT
    reg = f" in a {attrs.register} register" if keep["register"] else ""
    text = template.format(adj=" and ".join(adjs) if adjs else "", inst=inst, reg=reg)
    text = re.sub(r"\s+", " ", text).replace(" ,", ",").strip(" ,")
    return re.sub(r"\b(?:a|an) (\w)", lambda m: ("an " if m.group(1) in "aeiou" else "a ") + m.group(1), text)


def random_caption(
    attrs: Attributes, rng: np.random.Generator, omit: float = 0.2, templates: tuple[str, ...] = TRAIN_TEMPLATES
) -> str:
    """A caption of ``attrs`` from a random template, each attribute left out with probability ``omit``."""
    keep = {f: bool(rng.random() >= omit) for f in FAMILIES}
    return caption(attrs, templates[rng.integers(len(templates))], keep)


def has_word(text: str, word: str) -> bool:
    """Whole-word, case-insensitive membership."""
    return re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE) is not None


def swap_word(text: str, word: str, replacement: str) -> str:
    """Replace whole-word occurrences of ``word`` (case-insensitive) by ``replacement``."""
    return re.sub(rf"\b{re.escape(word)}\b", replacement, text, flags=re.IGNORECASE)


def prompt_pairs(
    features: list[str], per_feature: int, seed: int = 0, templates: tuple[str, ...] = HELDOUT_TEMPLATES
) -> pd.DataFrame:
    """(clean, corrupted) pairs in the reference format for the given feature values.

    Clean prompts name every attribute (so the feature is the only difference); the corrupted
    prompt swaps the feature word for its counterfactual partner.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for feature in features:
        for i in range(per_feature):
            attrs = Attributes(
                **{f: str(rng.choice(v)) for f, v in FAMILIES.items()}
            ).with_value(feature)
            clean = caption(attrs, templates[i % len(templates)], dict.fromkeys(FAMILIES, True))
            rows.append(
                {
                    "original_feature": feature,
                    "clean_prompt": clean,
                    "corrupted_prompt": swap_word(clean, feature, SWAPS[feature]),
                }
            )
    return pd.DataFrame(rows, columns=["original_feature", "clean_prompt", "corrupted_prompt"])
