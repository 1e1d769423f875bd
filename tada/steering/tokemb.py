"""TokEmb: a concept direction in the text encoder's output space, added at one generic word's token.

Compute (text encoder only): for each pair (positive, negative) the concept word's token is located in
the positive prompt (``compute_word``, its first or last occurrence, one token), and the direction is the
mean over pairs of ``h_pos - h_neg`` at that position (not normalised). Reference concepts build the
pairs from their ``tokemb_compute_*`` templates; otherwise the concept's compute set is used.
Apply: the neutral prompt is encoded, ``alpha * direction`` is added at the token of the eval word (the
first of ``eval_words`` the prompt holds), and what the target sites receive from that encoding is
replayed there on the conditional pass from ``start_step`` (so ``loc`` steers only the localized sites).
The words per concept come from the architecture profile (:meth:`ArchProfile.tokemb_words`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from tada.errors import ConfigError
from tada.interventions import Edit, StepWindow
from tada.models.base import Audio, GenerationConfig, ModelAdapter, PromptEncoding
from tada.sites import Site
from tada.steering.concepts import Concept
from tada.steering.controller import ArtifactController
from tada.steering.pci import PromptController
from tada.world.captions import has_word

OCCURRENCES = ("first", "last")


def token_position(enc: PromptEncoding, index: int, prompt: str, words: list[str], occurrence: str) -> int:
    """The position of the first of ``words`` that ``prompt`` holds as one token (its first / last occurrence)."""
    for word in words:
        found = enc.positions(index, word)
        if found:
            return found[0] if occurrence == "first" else found[-1]
        if has_word(prompt, word):
            raise ConfigError(
                f"TokEmb word '{word}' is not one token of this model's tokenizer in '{prompt}' "
                f"(tokens {enc.tokens[index]}): it spans several tokens; choose a single-token word"
            )
    raise ConfigError(f"TokEmb needs the word {' or '.join(repr(w) for w in words)} in the prompt; '{prompt}' has none")


def compute_pairs(concept: Concept) -> tuple[list[str], list[str]]:
    """(positive, negative) prompts of the compute step: the ``tokemb_compute_*`` templates filled with the
    base items of the compute set where the concept has them, else the compute set itself."""
    pos_t, neg_t = (concept.templates.get(f"tokemb_compute_{r}_template") for r in ("positive", "negative"))
    if pos_t is None or neg_t is None:
        return list(concept.positive), list(concept.negative)
    head, _, tail = pos_t.partition("{p}")
    pattern = re.compile(re.escape(head) + "(.*)" + re.escape(tail) + "$", re.DOTALL)
    bases = []
    for prompt in concept.positive:
        match = pattern.match(prompt)
        if match is None:
            raise ConfigError(f"positive prompt '{prompt}' of '{concept.name}' does not fit its template '{pos_t}'")
        bases.append(match.group(1))
    return [pos_t.replace("{p}", b) for b in bases], [neg_t.replace("{p}", b) for b in bases]


class TokEmb(PromptController, ArtifactController):
    """Token-embedding steering (alpha: the multiple of the direction added at the eval word's token)."""

    method = "tokemb"
    modes = ("cond_only",)

    def __init__(
        self, concept: Concept, tensors: dict[str, torch.Tensor], meta: dict[str, Any], reference_loc: bool = False, **kwargs: Any
    ) -> None:
        self.reference_loc = reference_loc
        ArtifactController.__init__(self, concept, tensors, meta, **kwargs)

    @classmethod
    def compute(
        cls,
        adapter: ModelAdapter,
        concept: Concept,
        words: Mapping[str, Any] | None = None,
        config: GenerationConfig | None = None,
        **kwargs: Any,
    ) -> TokEmb:
        """The direction of ``concept`` on ``adapter``'s text encoder; ``words`` (compute_word, eval_words,
        occurrence) default to the architecture profile's for the concept."""
        from tada.steering.profiles import profile

        words = dict(words or profile(adapter.arch).tokemb_words(concept.name))
        if words["occurrence"] not in OCCURRENCES:
            raise ConfigError(f"TokEmb occurrence must be first or last; got '{words['occurrence']}'")
        positive, negative = compute_pairs(concept)
        with torch.no_grad():
            enc = adapter.encode_prompt(positive + negative, config)
        n = len(positive)
        diffs = []
        for i, prompt in enumerate(positive):
            at = token_position(enc, i, prompt, [words["compute_word"]], words["occurrence"])
            diffs.append(enc.hidden_states[i, at].float() - enc.hidden_states[n + i, at].float())
        direction = torch.stack(diffs).mean(0).cpu()
        sites = adapter.registry().layers
        meta = {
            "arch": adapter.arch,
            "sites": [s.name for s in sites],
            "hidden_dim": int(direction.shape[-1]),
            "compute_word": words["compute_word"],
            "eval_words": list(words["eval_words"]),
            "occurrence": words["occurrence"],
            "positive": positive,
            "negative": negative,
            "templates": dict(concept.templates),
            "direction_norm": float(direction.norm()),
        }
        return cls(concept, {"direction": direction}, meta, **kwargs)

    def check(self, adapter: ModelAdapter) -> None:
        if self.meta["arch"] != adapter.arch:
            raise ConfigError(f"this tokemb artifact was computed on '{self.meta['arch']}', not '{adapter.arch}'")
        with torch.no_grad():
            width = adapter.encode_prompt([self.meta["positive"][0]]).hidden_states.shape[-1]
        if width != self.meta["hidden_dim"]:
            raise ConfigError(f"this model's text encoder has width {width}; the tokemb direction's is {self.meta['hidden_dim']}")

    def steered_encoding(self, adapter: ModelAdapter, neutral: list[str], config: GenerationConfig) -> PromptEncoding:
        """The neutral prompts' encoding with ``alpha * direction`` at each one's eval-word token."""
        with torch.no_grad():
            enc = adapter.encode_prompt(neutral, config)
        hidden = enc.hidden_states.clone()
        direction = self.tensors["direction"].to(hidden)
        for i, prompt in enumerate(neutral):
            at = token_position(enc, i, prompt, list(self.meta["eval_words"]), self.meta["occurrence"])
            hidden[i, at] += self.alpha * direction
        return PromptEncoding(hidden, enc.attention_mask, enc.tokens)

    def generate(self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig) -> Audio:
        self.steered_encoding(adapter, [self.neutral(p) for p in prompts], config)  # word checks, also at alpha 0
        return super().generate(adapter, prompts, seeds, config)

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        neutral = [self.neutral(p) for p in prompts]
        steered = self.steered_encoding(adapter, neutral, config)
        target = adapter.record_conditioning(neutral, seeds, config, self.sites, prompt_embeds=steered)
        return self.replay(adapter, target, StepWindow(self.start_step, self.end_step), neutral, seeds, config)

    def describe(self) -> dict[str, Any]:
        words = {k: self.meta[k] for k in ("compute_word", "eval_words", "occurrence")}
        return {**super().describe(), **words}
