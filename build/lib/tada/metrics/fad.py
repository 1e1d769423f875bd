"""FAD: Fréchet distance between Gaussians fitted to the embeddings of two sets of clips.

Backends give each clip a ``(frames, dim)`` array of embeddings: VGGish (one per 0.96 s frame,
the standard FAD) or any audio-text scorer's audio embedding (one per clip; usable on mini).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType

import numpy as np
import torch

from tada.errors import MissingCheckpointError
from tada.metrics.alignment import audio_embeddings, scorer_namespace
from tada.metrics.base import Clip, Metric
from tada.metrics.cache import ClipCache, checkpoint_tag
from tada.resources import require, resolve_checkpoint
from tada.scoring.base import AudioTextScorer


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """``|mu_x - mu_y|^2 + Tr(S_x + S_y - 2 (S_x S_y)^{1/2})`` of two samples ``(n, dim)``.

    ``Tr (S_x S_y)^{1/2}`` is the sum of square roots of the eigenvalues of ``S_x S_y`` (real and
    non-negative for covariance matrices; round-off is clipped), which stays stable when the
    covariances are singular (fewer samples than dimensions).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    mx, my = x.mean(0), y.mean(0)
    sx = np.atleast_2d(np.cov(x, rowvar=False)) if len(x) > 1 else np.zeros((x.shape[1],) * 2)
    sy = np.atleast_2d(np.cov(y, rowvar=False)) if len(y) > 1 else np.zeros((y.shape[1],) * 2)
    root = np.sqrt(np.clip(np.linalg.eigvals(sx @ sy).real, 0, None)).sum()
    return float(max(((mx - my) ** 2).sum() + np.trace(sx) + np.trace(sy) - 2 * root, 0.0))


class EmbeddingBackend(ABC):
    """Embeds clips for FAD; ``tag`` names the model in the cache."""

    tag: str

    @abstractmethod
    def embed(self, clips: list[Clip], cache: ClipCache) -> list[np.ndarray]:
        """One ``(frames, dim)`` array per clip."""


class ScorerEmbedding(EmbeddingBackend):
    """One embedding per clip from an audio-text scorer's audio tower."""

    def __init__(self, scorer: AudioTextScorer, tag: str | None = None) -> None:
        self.scorer, self.tag = scorer, scorer_namespace(scorer, tag)

    def embed(self, clips: list[Clip], cache: ClipCache) -> list[np.ndarray]:
        emb = audio_embeddings(self.scorer, clips, cache, self.tag)
        return [e[None] for e in emb]


class VGGishEmbedding(EmbeddingBackend):
    """VGGish frame embeddings (``torchvggish`` package, weights from a local ``.pth`` file)."""

    sample_rate = 16000
    HOW = (
        "Download vggish-10086976.pth (the torchvggish release of Google's VGGish weights) and pass its path; "
        "or use the scorer-embedding FAD backend."
    )

    def __init__(self, checkpoint: str | None) -> None:
        self.checkpoint = checkpoint
        self.tag = f"vggish/{checkpoint_tag(checkpoint) if checkpoint else 'none'}"
        self._loaded: tuple[ModuleType, torch.nn.Module] | None = None

    def _load(self) -> tuple[ModuleType, torch.nn.Module]:
        if self._loaded is None:
            vggish = require("torchvggish", "FAD with VGGish embeddings", "pip install torchvggish")
            if not self.checkpoint:
                raise MissingCheckpointError(f"VGGish (FAD) checkpoint is not configured. {self.HOW}")
            path = resolve_checkpoint(self.checkpoint, what="VGGish (FAD)", how=self.HOW)
            model = vggish.torchvggish._vgg(postprocess=False)
            model.load_state_dict(torch.load(path, map_location="cpu"))
            self._loaded = vggish, model.eval()
        return self._loaded

    def embed(self, clips: list[Clip], cache: ClipCache) -> list[np.ndarray]:
        vggish, model = self._load()

        def compute(indices: list[int]) -> list[np.ndarray]:
            out = []
            for i in indices:
                examples = vggish.waveform_to_examples(clips[i].resampled(self.sample_rate), self.sample_rate)
                with torch.no_grad():
                    out.append(model(examples).reshape(-1, 128).numpy())
            return out

        return cache.get_or_compute(f"embedding/{self.tag}", [c.key for c in clips], compute)


class FadMetric(Metric):
    """FAD of the batch against its references, repeated on every row of the batch.

    Call it with one alpha's clips and their alpha=0 references (as the sweep driver does).
    """

    name = "fad"
    columns = ("fad",)

    def __init__(self, backend: EmbeddingBackend, cache: ClipCache | None = None) -> None:
        super().__init__(cache)
        self.backend = backend

    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        if all(c.key == r.key for c, r in zip(clips, references, strict=True)):
            return np.zeros(len(clips))
        x = np.concatenate(self.backend.embed(clips, self.cache))
        y = np.concatenate(self.backend.embed(references, self.cache))
        return np.full(len(clips), frechet_distance(x, y))
