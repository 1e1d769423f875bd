"""MuQ-MuLan (the ``muq`` package) as an audio-text scorer, for the ``muqt`` alignment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import librosa
import numpy as np
import torch
import torch.nn.functional as F

from tada.errors import TadaError
from tada.resources import require, resolve_checkpoint
from tada.scoring.base import AudioTextScorer

DEFAULT_CHECKPOINT = "OpenMuQ/MuQ-MuLan-large"
INSTALL = (
    "pip install muq — it needs torchaudio, nnAudio and x-clip; torchaudio has no build for torch 2.13, "
    "so use an environment with a matching torch/torchaudio pair."
)


class MuqScorer(AudioTextScorer):
    """Audio-text similarity under MuQ-MuLan (24 kHz audio; clips over 10 s are averaged by MuQ)."""

    sample_rate = 24000

    def __init__(self, model: Any, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)

    @classmethod
    def from_pretrained(cls, path_or_id: str = DEFAULT_CHECKPOINT, device: str | torch.device = "cpu") -> MuqScorer:
        """Load MuQ-MuLan; a missing package or checkpoint raises one clear :class:`TadaError`."""
        muq = require("muq", "MuQ-MuLan alignment (muqt)", INSTALL)
        path = resolve_checkpoint(path_or_id, what="MuQ-MuLan", how="Download OpenMuQ/MuQ-MuLan-large.")
        return cls(muq.MuQMuLan.from_pretrained(path), device)

    @torch.no_grad()
    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        waves = np.asarray(waveforms, dtype=np.float32)
        if sample_rate != self.sample_rate:
            waves = librosa.resample(waves, orig_sr=sample_rate, target_sr=self.sample_rate, axis=-1)
        emb = self.model(wavs=torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).to(self.device))
        return F.normalize(emb.float(), dim=-1).cpu()

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        return F.normalize(self.model(texts=list(texts)).float(), dim=-1).cpu()

    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        raise TadaError("MuQ-MuLan gives no stage features for LPAPS; compute LPAPS with CLAP")
