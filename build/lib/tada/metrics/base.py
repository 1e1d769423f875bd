"""The metric interface: per-clip values of a batch of clips against their alpha=0 references."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

from tada.audio import read_wav
from tada.errors import TadaError
from tada.metrics.cache import ClipCache, content_hash


@dataclass(frozen=True, eq=False)
class Clip:
    """A mono waveform, its sample rate and its content hash (the cache key)."""

    wave: np.ndarray
    sample_rate: int
    key: str

    @classmethod
    def load(cls, path: str | Path) -> Clip:
        """Read a WAV file; its key is the hash of the file's bytes."""
        wave, sr = read_wav(path)
        return cls(wave, sr, content_hash(Path(path).read_bytes()))

    @classmethod
    def from_array(cls, wave: np.ndarray, sample_rate: int) -> Clip:
        """Wrap samples; the key hashes the samples and the rate."""
        wave = np.ascontiguousarray(wave, dtype=np.float32)
        return cls(wave, sample_rate, content_hash(wave.tobytes() + str(sample_rate).encode()))

    def resampled(self, sample_rate: int) -> np.ndarray:
        """The samples at ``sample_rate``."""
        if sample_rate == self.sample_rate:
            return self.wave
        return librosa.resample(self.wave, orig_sr=self.sample_rate, target_sr=sample_rate).astype(np.float32)


def stack(waves: Sequence[np.ndarray]) -> np.ndarray:
    """Waves of one length as a ``(batch, samples)`` array."""
    return np.stack([np.asarray(w, dtype=np.float32) for w in waves])


class Metric(ABC):
    """A metric computed per clip, each clip against its alpha=0 reference clip.

    Subclasses set ``name`` and ``columns`` and implement :meth:`_compute`. Heavy backends load
    lazily, on first use, so a missing checkpoint or package raises a :class:`TadaError` from
    :meth:`compute` (see :func:`compute_metrics`).
    """

    name: str
    columns: tuple[str, ...]

    def __init__(self, cache: ClipCache | None = None) -> None:
        self.cache = cache if cache is not None else ClipCache()

    def compute(self, clips: Sequence[Clip], references: Sequence[Clip]) -> pd.DataFrame:
        """One row per clip, columns ``self.columns``."""
        if len(clips) != len(references):
            raise TadaError(f"{self.name}: {len(clips)} clips but {len(references)} references")
        values = np.asarray(self._compute(list(clips), list(references)), dtype=float).reshape(len(clips), -1)
        return pd.DataFrame(values, columns=list(self.columns))

    @abstractmethod
    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        """Values ``(clips, columns)``."""


@dataclass
class MetricReport:
    """Per-clip values of the metrics that computed, and why the others did not."""

    values: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)


def compute_metrics(metrics: Sequence[Metric], clips: Sequence[Clip], references: Sequence[Clip]) -> MetricReport:
    """Run every metric; one that fails with a :class:`TadaError` (missing checkpoint or
    package, bad input) is reported in ``errors`` while the others still compute."""
    frames, errors = [], {}
    for metric in metrics:
        try:
            frames.append(metric.compute(clips, references))
        except TadaError as err:
            errors[metric.name] = str(err)
    values = pd.concat(frames, axis=1) if frames else pd.DataFrame(index=range(len(clips)))
    return MetricReport(values, errors)


def map_batches(
    clips: Sequence[Clip], fn: Callable[[np.ndarray, int], np.ndarray], batch_size: int = 16
) -> list[np.ndarray]:
    """``fn(waves, sample_rate)`` over batches of clips of equal length and rate; one result per clip."""
    out: list[np.ndarray | None] = [None] * len(clips)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, clip in enumerate(clips):
        groups.setdefault((len(clip.wave), clip.sample_rate), []).append(i)
    for (_, sr), members in groups.items():
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            for i, value in zip(chunk, fn(stack([clips[i].wave for i in chunk]), sr), strict=True):
                out[i] = np.asarray(value)
    return out  # type: ignore[return-value]
