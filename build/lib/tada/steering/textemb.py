"""TextEmb: steer the text encoder's output along ``positive - negative``, token by token.

For each prompt the neutral, positive and negative prompts are encoded together (shared padding);
the conditional text becomes ``neutral + alpha * (positive - negative)`` with the union of the three
masks, from ``start_step`` (the reference's split step, 0 in its evaluation). The steered encoding goes
through the model's own conditioning path (Stable Audio: its projection), then what the target sites
receive is replayed there, so ``loc`` steers only the localized sites. The unconditional pass keeps the
neutral's.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from tada.interventions import Edit, StepWindow
from tada.models.base import GenerationConfig, ModelAdapter, PromptEncoding
from tada.sites import Site
from tada.steering.pci import PromptController


def steered_encoding(
    adapter: ModelAdapter, triples: list[tuple[str, str, str]], alpha: float, config: GenerationConfig
) -> PromptEncoding:
    """``neutral + alpha * (positive - negative)`` per token, masks OR-ed."""
    n = len(triples)
    texts = [t[0] for t in triples] + [t[1] for t in triples] + [t[2] for t in triples]
    enc = adapter.encode_prompt(texts, config)
    h = enc.hidden_states
    neutral, pos, neg = h[:n], h[n : 2 * n], h[2 * n :]
    mask = None
    if enc.attention_mask is not None:
        m = enc.attention_mask
        mask = (m[:n].bool() | m[n : 2 * n].bool() | m[2 * n :].bool()).to(m.dtype)
    return PromptEncoding(neutral + alpha * (pos - neg), mask, enc.tokens[:n])


class TextEmb(PromptController):
    """Per-token text-embedding steering (alpha: the multiple of ``positive - negative`` added)."""

    method = "textemb"
    modes = ("cond_only", "both")

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        triples = [self.concept.triple(p, self.method) for p in prompts]
        neutral = [t[0] for t in triples]
        with torch.no_grad():
            steered = steered_encoding(adapter, triples, self.alpha, config)
        target = adapter.record_conditioning(neutral, seeds, config, self.sites, prompt_embeds=steered)
        return self.replay(adapter, target, StepWindow(self.start_step, self.end_step), neutral, seeds, config)
