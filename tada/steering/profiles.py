"""Architecture profiles: what steering and its evaluation need to know about one architecture.

The mini profile knows the mini world (its concepts, neutral captions, the scorer's alignment text
and the family words it is contrasted with, and the preset localization *found*); the real profile
reads the reference's concepts and test prompts from a configured folder. Nothing else in the package
branches on the architecture's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tada.errors import ConfigError, unknown_name
from tada.models import ARCHITECTURES
from tada.sites import EXCEPT
from tada.steering.concepts import (
    Concept,
    check_reference_folder,
    mini_concept,
    mini_prompts,
    read_prompt_file,
    reference_concepts,
    reference_test_prompts,
)
from tada.world.attributes import SWAPS, VALUE_FAMILY

#: the reference's concepts whose evaluation prompts are sung (the others use the preset's "[inst]")
VOCAL_CONCEPTS = ("vocal_gender", "vocal_style")

#: TokEmb words of the reference's concepts: (compute word, eval word, occurrence) (STEERING.md)
REFERENCE_TOKEMB_WORDS: dict[str, tuple[str, str, str]] = {
    "piano": ("piano", "instrument", "last"),
    "violin": ("violin", "instrument", "last"),
    "vocal_gender": ("vocal", "vocal", "last"),
    "vocal_style": ("vocal", "vocal", "last"),
    "guitar_electronic": ("guitar", "guitar", "last"),
    "mood": ("song", "song", "first"),
    "tempo": ("song", "song", "first"),
    "rock_genre": ("song", "song", "first"),
    "electronic_music": ("song", "song", "first"),
}


@dataclass
class ArchProfile:
    """Concepts, evaluation prompts, alignment texts and the localized preset of one architecture."""

    arch: str
    localized: str = "localized"
    prompt_file: str | None = None
    #: the folder of the reference's prompt data (read by the profiles that steer its concepts)
    reference_prompts: str | Path | None = None
    #: prompt pairs of a concept's compute set where the profile builds it (mini); the reference's concepts
    #: come with their own pairs
    compute_prompts: int = 16

    def concept_names(self) -> list[str]:
        raise NotImplementedError

    def concept(self, name: str) -> Concept:
        raise NotImplementedError

    def eval_prompts(self, concept: str, n: int) -> list[str]:
        """The first ``n`` raw prompts a sweep steers."""
        raise NotImplementedError

    def alignment(self, concept: str) -> dict[str, str]:
        """Alignment metric name -> the text clips are compared with."""
        return dict(self.concept(concept).alignment)

    def contrast(self, concept: str) -> list[str]:
        """Texts the alignment text is contrasted with (log-odds against them); none: cosine only."""
        return []

    def lyrics(self, concept: str, n: int) -> list[str] | None:
        """Lyrics of the first ``n`` evaluation prompts where the concept is sung; None: the preset's lyrics."""
        return None

    def target_layers(self, arm: str) -> str:
        """The preset of an arm: ``all``, the localized preset (a name or a YAML path) or, ``ablated``,
        every site but the localized ones."""
        if arm == "ablated":
            return f"{EXCEPT}{self.localized}"
        return "all" if arm == "all" else self.localized

    def tokemb_words(self, concept: str) -> dict[str, Any]:
        """TokEmb's compute word, eval words (the first one a prompt holds is steered) and occurrence."""
        if concept not in REFERENCE_TOKEMB_WORDS:
            raise unknown_name(f"TokEmb concept of '{self.arch}' (no words configured)", concept, REFERENCE_TOKEMB_WORDS)
        compute, word, occurrence = REFERENCE_TOKEMB_WORDS[concept]
        return {"compute_word": compute, "eval_words": [word], "occurrence": occurrence}

    def check_concept(self, name: str) -> None:
        if name not in self.concept_names():
            raise unknown_name(f"concept of '{self.arch}'", name, self.concept_names())

    def _from_file(self, n: int) -> list[str] | None:
        return None if self.prompt_file is None else read_prompt_file(self.prompt_file)[:n]


@dataclass
class MiniProfile(ArchProfile):
    """The mini world: concepts are attribute values, prompts are captions that leave their family out."""

    def concept_names(self) -> list[str]:
        return list(VALUE_FAMILY)

    def concept(self, name: str) -> Concept:
        self.check_concept(name)
        return mini_concept(name, self.compute_prompts, seed=1)

    def eval_prompts(self, concept: str, n: int) -> list[str]:
        self.check_concept(concept)
        return self._from_file(n) or mini_prompts(concept, n, seed=0)

    def alignment(self, concept: str) -> dict[str, str]:
        self.check_concept(concept)
        return {"mini": concept}

    def tokemb_words(self, concept: str) -> dict[str, Any]:
        """The value's own token (vs its counterpart's) for the direction; applied at "instrument" for an
        instrument (neutral captions say "an instrument"), else at the template's noun "track" / "recording"."""
        self.check_concept(concept)
        words = ["instrument"] if VALUE_FAMILY[concept] == "instrument" else ["track", "recording"]
        return {"compute_word": concept, "eval_words": words, "occurrence": "last"}

    def contrast(self, concept: str) -> list[str]:
        """The value's counterpart (``violin`` -> ``trumpet``): alignment is the log-odds along the steered axis."""
        self.check_concept(concept)
        return [SWAPS[concept]]


@dataclass
class ReferenceProfile(ArchProfile):
    """A real architecture steered on the reference's concepts and 100 test prompts."""

    def _folder(self) -> Path:
        if self.reference_prompts is None:
            raise ConfigError(
                f"'{self.arch}' steers the reference's concepts: set `steering.reference_prompts` "
                "(or --reference-prompts) to the folder of the reference prompt data"
            )
        return Path(self.reference_prompts)

    def concept_names(self) -> list[str]:
        return list(reference_concepts(self._folder()))

    def concept(self, name: str) -> Concept:
        concepts = reference_concepts(self._folder())
        if name not in concepts:
            raise unknown_name(f"concept of '{self.arch}'", name, concepts)
        return concepts[name]

    def eval_prompts(self, concept: str, n: int) -> list[str]:
        return self._from_file(n) or reference_test_prompts(self._folder())[:n]

    def lyrics(self, concept: str, n: int) -> list[str] | None:
        """The reference's per-prompt lyrics (``test_lyrics.csv``) for the vocal concepts, else None ("[inst]")."""
        if concept not in VOCAL_CONCEPTS:
            return None
        path = check_reference_folder(self._folder(), ("test_lyrics.csv",)) / "test_lyrics.csv"
        return pd.read_csv(path).sort_values("index")["lyrics"].tolist()[:n]


#: architectures with a profile of their own; every other one steers the reference's concepts
PROFILES: dict[str, type[ArchProfile]] = {"mini": MiniProfile}


def profile(
    arch: str,
    localized: str | None = None,
    reference_prompts: str | Path | None = None,
    prompt_file: str | None = None,
    compute_prompts: int | None = None,
) -> ArchProfile:
    """The profile of ``arch``; ``localized`` overrides its localized preset (a name or YAML path),
    ``compute_prompts`` the size of the compute sets it builds."""
    if arch not in ARCHITECTURES:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    sizes = {} if compute_prompts is None else {"compute_prompts": compute_prompts}
    return PROFILES.get(arch, ReferenceProfile)(arch, localized or "localized", prompt_file, reference_prompts, **sizes)
