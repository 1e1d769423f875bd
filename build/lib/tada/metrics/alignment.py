"""Alignment: cosine similarity of each clip to a concept text under an audio-text scorer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tada.metrics.base import Clip, Metric, map_batches
from tada.metrics.cache import ClipCache
from tada.scoring.base import AudioTextScorer


def scorer_namespace(scorer: AudioTextScorer, tag: str | None) -> str:
    """Cache namespace of a scorer's audio embeddings; without a checkpoint ``tag`` it is tied to
    the scorer object, which is only meaningful for an in-memory cache."""
    return f"embedding/{tag if tag else f'object-{id(scorer)}'}"


def audio_embeddings(scorer: AudioTextScorer, clips: list[Clip], cache: ClipCache, namespace: str) -> np.ndarray:
    """Unit-norm audio embeddings ``(clips, dim)``, cached per clip under ``namespace``."""

    def embed(waves: np.ndarray, sr: int) -> np.ndarray:
        with torch.no_grad():
            return scorer.embed_audio(waves, sr).float().cpu().numpy()

    def compute(indices: list[int]) -> list[np.ndarray]:
        return map_batches([clips[i] for i in indices], embed)

    return np.stack(cache.get_or_compute(namespace, [c.key for c in clips], compute))


class AlignmentMetric(Metric):
    """Similarity of every clip to ``text`` (the references are not used).

    ``name`` is the output column (``clap``, ``muqt``, ``mini``); ``tag`` identifies the scorer's
    checkpoint in the cache (see :func:`scorer_namespace`). With ``contrast`` texts the value is the
    scorer's log-odds of ``text`` against them (``log p(text) - log p(contrast)`` under the softmax of its
    scaled similarities): it measures the concept itself rather than closeness to its word, and unlike
    the probability it does not flatten out near 0 and 1.
    """

    def __init__(
        self,
        scorer: AudioTextScorer,
        text: str,
        name: str,
        tag: str | None = None,
        cache: ClipCache | None = None,
        contrast: Sequence[str] = (),
    ) -> None:
        super().__init__(cache)
        self.scorer, self.text, self.name, self.contrast = scorer, text, name, list(contrast)
        self.namespace = scorer_namespace(scorer, tag)
        self.columns = (name,)

    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        audio = audio_embeddings(self.scorer, clips, self.cache, self.namespace)
        with torch.no_grad():
            texts = self.scorer.embed_text([self.text, *self.contrast]).float().cpu().numpy()
        if not self.contrast:
            return audio @ texts[0]
        logits = self.scorer.logit_scale * (audio @ texts.T)
        return logits[:, 0] - np.logaddexp.reduce(logits[:, 1:], axis=1)
