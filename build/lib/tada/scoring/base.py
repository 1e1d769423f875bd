"""The interface every audio-text scorer implements (the mini scorer, CLAP, MuQ-MuLan)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch


class AudioTextScorer(ABC):
    """Embeds audio and text into one space; cosine similarity is the alignment score."""

    #: sample rate the audio encoder expects; inputs at other rates are resampled
    sample_rate: int
    #: scale of cosine similarities before a softmax over texts (CLIP/CLAP's learned temperature)
    logit_scale: float = 100.0

    @abstractmethod
    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Unit-norm embeddings ``(batch, dim)`` of mono waveforms ``(batch, samples)``."""

    @abstractmethod
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm embeddings ``(batch, dim)`` of texts."""

    @abstractmethod
    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        """Feature maps ``(batch, channels, ...)`` of the audio encoder's stages (for LPAPS)."""

    def similarity(self, waveforms: np.ndarray, sample_rate: int, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of clip ``i`` to ``texts[i]`` (or to ``texts[0]`` when one text is given)."""
        a = self.embed_audio(waveforms, sample_rate)
        t = self.embed_text(list(texts))
        if len(t) == 1:
            t = t.expand(len(a), -1)
        return (a * t).sum(-1).cpu().numpy()

    def similarity_matrix(self, waveforms: np.ndarray, sample_rate: int, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of every clip to every text, shape ``(clips, texts)``."""
        return (self.embed_audio(waveforms, sample_rate) @ self.embed_text(list(texts)).T).cpu().numpy()
