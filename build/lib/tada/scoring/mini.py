"""The mini world's concept scorer: a small CLAP-shaped audio-text model.

The audio encoder has four convolutional stages over the log-spectrogram (frequency bins and
12 chroma bins as channels), pooled into a shared embedding space with a bag-of-words text encoder. It implements
:class:`~tada.scoring.base.AudioTextScorer`, so alignment and LPAPS use it exactly as they use CLAP.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import librosa
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tada.audio import log_spectrogram
from tada.resources import resolve_checkpoint
from tada.scoring.base import AudioTextScorer
from tada.text import tokenize


@dataclass
class ScorerConfig:
    vocab: list[str] = field(default_factory=list)
    n_fft: int = 1024
    n_freq: int = 384  # bins kept (up to 3 kHz at 8 kHz): fine enough to hear major from minor thirds
    channels: tuple[int, int, int, int] = (96, 96, 128, 128)
    dim: int = 64
    sample_rate: int = 8000
    spec_mean: list[float] = field(default_factory=list)
    spec_std: list[float] = field(default_factory=list)


class AudioEncoder(nn.Module):
    """Four conv stages over time (the stages LPAPS compares), then mean+max pooling."""

    def __init__(self, n_freq: int, channels: Sequence[int], dim: int) -> None:
        super().__init__()
        ins = [n_freq, *channels[:-1]]
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(i, o, 3, stride=1 if k == 0 else 2, padding=1), nn.GroupNorm(8, o), nn.GELU()
            )
            for k, (i, o) in enumerate(zip(ins, channels, strict=True))
        )
        self.proj = nn.Linear(2 * channels[-1], dim)

    def forward(self, spec: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats, h = [], spec
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return self.proj(torch.cat([h.mean(-1), h.amax(-1)], dim=-1)), feats


class TextEncoder(nn.Module):
    """Mean of word embeddings (padding excluded), then an MLP."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1).float()
        pooled = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.mlp(pooled)


class MiniScorerModel(nn.Module):
    def __init__(self, config: ScorerConfig) -> None:
        super().__init__()
        self.config = config
        self.vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", *config.vocab])}
        self.audio = AudioEncoder(config.n_freq + 12, config.channels, config.dim)
        self.text = TextEncoder(len(self.vocab), config.dim)
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
        chroma = librosa.filters.chroma(sr=config.sample_rate, n_fft=config.n_fft)[:, : config.n_freq]
        self.register_buffer("chroma", torch.tensor(chroma, dtype=torch.float32), persistent=False)
        self.register_buffer("spec_mean", torch.tensor(config.spec_mean or [0.0] * config.n_freq).view(-1, 1), persistent=False)
        self.register_buffer("spec_std", torch.tensor(config.spec_std or [1.0] * config.n_freq).view(-1, 1), persistent=False)

    def token_ids(self, texts: Sequence[str]) -> torch.Tensor:
        words = [tokenize(t) or ["<unk>"] for t in texts]
        ids = torch.zeros(len(texts), max(len(w) for w in words), dtype=torch.long)
        for i, ws in enumerate(words):
            ids[i, : len(ws)] = torch.tensor([self.vocab.get(w, 1) for w in ws])
        return ids

    def encode_audio_spec(self, log_spec: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Embedding and stage features of log-spectrograms, with 12 chroma channels appended."""
        chroma = torch.einsum("cf,bft->bct", self.chroma, torch.expm1(log_spec) ** 2)
        chroma = chroma / chroma.amax(dim=1, keepdim=True).clamp(min=1e-6)
        emb, feats = self.audio(torch.cat([(log_spec - self.spec_mean) / self.spec_std, chroma], dim=1))
        return nn.functional.normalize(emb, dim=-1), feats

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return nn.functional.normalize(self.text(self.token_ids(texts)), dim=-1)

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.config), indent=1))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path / "model.safetensors"))


class MiniScorer(AudioTextScorer):
    """Scores clips of the mini world against texts (the attribute words or whole captions)."""

    def __init__(self, model: MiniScorerModel) -> None:
        self.model = model.eval()
        self.sample_rate = model.config.sample_rate
        self.logit_scale = float(model.logit_scale.detach().exp())

    @classmethod
    def from_pretrained(cls, path: str | Path) -> MiniScorer:
        path = Path(
            resolve_checkpoint(
                path, what="mini scorer", how="Train it with `snakemake --cores 2 results/mini/scorer/config.json`."
            )
        )
        model = MiniScorerModel(ScorerConfig(**json.loads((path / "config.json").read_text())))
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        return cls(model)

    def _spec(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        waves = np.asarray(waveforms, dtype=np.float32)
        if waves.ndim == 3:
            waves = waves.mean(axis=1)
        if sample_rate != self.sample_rate:
            waves = librosa.resample(waves, orig_sr=sample_rate, target_sr=self.sample_rate)
        return log_spectrogram(waves, self.model.config.n_fft, self.model.config.n_freq)

    @torch.no_grad()
    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        return self.model.encode_audio_spec(self._spec(waveforms, sample_rate))[0]

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self.model.encode_text(texts)

    @torch.no_grad()
    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        return self.model.encode_audio_spec(self._spec(waveforms, sample_rate))[1]
