"""Concepts as data: the prompt sets a steering method computes from and the prompts it steers.

A :class:`Concept` holds an aligned compute set (``negative[i] -> positive[i]``; positive alpha moves
toward the positive pole) and says, for a prompt to steer, what each method generates
(:meth:`Concept.triple`: neutral, positive, negative). Two sources:

* the reference's nine concepts (:func:`reference_concepts`), read from a folder in the layout of
  the reference data (``concept_prompts.csv``: compute sets and per-method templates, ``test_prompts.csv``);
* the mini world's values (:func:`mini_concept`): ``violin`` (vs ``trumpet``), ``fast`` (vs ``slow``)...,
  built by editing captions of the world, so every method sees the same neutral / positive / negative.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from tada.errors import ConfigError, missing_prompt_file, unknown_name
from tada.world.attributes import FAMILIES, SWAPS, VALUE_FAMILY, Attributes
from tada.world.captions import HELDOUT_TEMPLATES, TRAIN_TEMPLATES, caption

#: which template family each method's prompt triple comes from (reference concepts)
METHOD_TEMPLATES: dict[str, str] = {"pci": "pci", "textemb": "textemb", "freesliders": "freesliders"}
REFERENCE_FILES: dict[str, str] = {
    "concept_prompts.csv": "src/steering/methods/sae/lib/configs/steer_prompts.py and the methods' core.py files",
    "test_prompts.csv": "src/steering/eval/test_prompts.py (TEST_PROMPTS)",
    "test_lyrics.csv": "src/steering/eval/test_prompts.py (LYRICS)",
    "alpha_grids.csv": "configs/steering/**/eval_*.yaml",
}
REFERENCE_REPO = "https://github.com/luk-st/steer-audio"


@dataclass(frozen=True)
class Concept:
    """One steerable concept: its compute set and how a prompt is made neutral / positive / negative."""

    name: str
    positive: list[str]
    negative: list[str]
    templates: dict[str, str] = field(default_factory=dict)
    edit: Callable[[str], tuple[str, str, str]] | None = None
    alignment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.positive) != len(self.negative) or not self.positive:
            raise ConfigError(f"concept '{self.name}' needs aligned, non-empty positive and negative prompt lists")

    def triple(self, prompt: str, method: str = "caa") -> tuple[str, str, str]:
        """(neutral, positive, negative) prompts of ``method`` for ``prompt``."""
        if self.edit is not None:
            return self.edit(prompt)
        family = METHOD_TEMPLATES.get(method)
        neutral_key = "freesliders_neutral_template" if family == "freesliders" else "neutral_template"
        roles = [neutral_key, f"{family}_positive_template", f"{family}_negative_template"]
        if family is None:
            roles[1:] = ["pci_positive_template", "pci_negative_template"]
        missing = [r for r in roles if r not in self.templates]
        if missing:
            raise ConfigError(f"concept '{self.name}' has no template(s) {missing}")
        neutral, pos, neg = (self.templates[r].replace("{p}", prompt) for r in roles)
        return neutral, pos, neg


# --- the mini world ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _captions() -> dict[str, tuple[str, Attributes, dict[str, bool]]]:
    """Every caption of the world -> (template, attributes, which families it names)."""
    table: dict[str, tuple[str, Attributes, dict[str, bool]]] = {}
    for template in (*HELDOUT_TEMPLATES, *TRAIN_TEMPLATES):
        for flags in itertools.product((True, False), repeat=len(FAMILIES)):
            keep = dict(zip(FAMILIES, flags, strict=True))
            for values in itertools.product(*FAMILIES.values()):
                attrs = Attributes(*values)
                table.setdefault(caption(attrs, template, keep), (template, attrs, keep))
    return table


def edit_caption(prompt: str, value: str) -> tuple[str, str, str]:
    """A world caption without ``value``'s family, with ``value``, and with its swap partner."""
    found = _captions().get(prompt.strip())
    if found is None:
        raise ConfigError(
            f"'{prompt}' is not a caption of the mini world, so its '{VALUE_FAMILY[value]}' cannot be edited; "
            f"use a caption like '{caption(Attributes('violin', 'fast', 'low', 'happy'), HELDOUT_TEMPLATES[0], dict.fromkeys(FAMILIES, False))}'"
        )
    template, attrs, keep = found
    family = VALUE_FAMILY[value]
    return (
        caption(attrs, template, keep | {family: False}),
        caption(attrs.with_value(value), template, keep | {family: True}),
        caption(attrs.with_value(SWAPS[value]), template, keep | {family: True}),
    )


def mini_prompts(concept: str, n: int, seed: int = 0) -> list[str]:
    """``n`` distinct held-out-template captions that leave ``concept``'s family out (neutral prompts).

    The other families vary over their values and omission.
    """
    if concept not in VALUE_FAMILY:
        raise unknown_name("mini-world concept", concept, VALUE_FAMILY)
    family = VALUE_FAMILY[concept]
    others = [f for f in FAMILIES if f != family]
    choices = list(itertools.product(HELDOUT_TEMPLATES, *[(*FAMILIES[f], None) for f in others]))
    if not 0 < n <= len(choices):
        raise ConfigError(f"concept '{concept}' has 1 to {len(choices)} distinct neutral prompts; asked for {n}")
    prompts = []
    for i in np.random.default_rng(seed).permutation(len(choices))[:n]:
        template, *values = choices[i]
        chosen = {f: v for f, v in zip(others, values, strict=True) if v is not None}
        attrs = Attributes(**{f: FAMILIES[f][0] for f in FAMILIES} | chosen)
        prompts.append(caption(attrs, template, {f: f in chosen for f in FAMILIES}))
    return prompts


def mini_concept(name: str, n: int = 16, seed: int = 1) -> Concept:
    """A mini-world value as a concept; its compute set edits ``n`` neutral captions (``seed``)."""
    triples = [edit_caption(p, name) for p in mini_prompts(name, n, seed)]
    return Concept(
        name,
        positive=[t[1] for t in triples],
        negative=[t[2] for t in triples],
        edit=lambda prompt: edit_caption(prompt, name),
        alignment={"mini": name},
    )


# --- the reference's concepts ------------------------------------------------------------------
def check_reference_folder(folder: str | Path, files: tuple[str, ...] = ("concept_prompts.csv",)) -> Path:
    """``folder`` if it holds ``files``, else an error naming the folder, the files and their source."""
    folder = Path(folder)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        listing = "; ".join(f"{f} (from {REFERENCE_FILES[f]})" for f in missing)
        raise ConfigError(
            f"reference prompt data not found in '{folder}': missing {listing}. They are transcribed from the "
            f"reference repository {REFERENCE_REPO}; point the `steering.reference_prompts` config key "
            "(or --reference-prompts) to a folder holding them."
        )
    return folder


def reference_concepts(folder: str | Path) -> dict[str, Concept]:
    """The reference's concepts from ``concept_prompts.csv`` in ``folder``."""
    return dict(_reference_concepts(Path(folder).resolve()))


@lru_cache(maxsize=4)  # a workflow asks once per job; the file is read once
def _reference_concepts(folder: Path) -> dict[str, Concept]:
    table = pd.read_csv(check_reference_folder(folder) / "concept_prompts.csv")
    concepts = {}
    for name, rows in table.groupby("concept", sort=False):
        by_role = {role: r.sort_values("index")["prompt"].tolist() for role, r in rows.groupby("role")}
        templates = {role: texts[0] for role, texts in by_role.items() if role.endswith("_template")}
        alignment = {m: by_role[f"eval_{m}_text"][0] for m in ("clap", "muqt") if f"eval_{m}_text" in by_role}
        concepts[str(name)] = Concept(
            str(name), by_role["positive"], by_role["negative"], templates=templates, alignment=alignment
        )
    return concepts


def reference_test_prompts(folder: str | Path) -> list[str]:
    """The reference's 100 evaluation prompts, in order."""
    path = check_reference_folder(folder, ("test_prompts.csv",)) / "test_prompts.csv"
    return pd.read_csv(path).sort_values("index")["prompt"].tolist()


def read_prompt_file(path: str | Path, column: str = "prompt") -> list[str]:
    """Prompts from a text file (one per line) or a CSV column."""
    path = Path(path)
    if not path.is_file():
        raise missing_prompt_file(path, f"a text file with one prompt per line, or a CSV file with a '{column}' column")
    if path.suffix == ".csv":
        table = pd.read_csv(path)
        if column not in table.columns:
            raise ConfigError(f"{path} has no column '{column}'; it has {list(table.columns)}")
        prompts = table[column].astype(str).tolist()
    else:
        prompts = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not prompts:
        raise ConfigError(f"prompt file '{path}' holds no prompts")
    return prompts
