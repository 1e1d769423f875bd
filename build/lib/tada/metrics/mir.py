"""MIR preservation axes with librosa, as distances to the reference clip (0 = identical).

- harmony: 1 - mean per-frame cosine similarity of the chromagrams;
- ssm: 1 - max(0, Pearson correlation) of the chroma self-similarity matrices (upper triangle);
- rhythm: 1 - beat F-measure (±70 ms, ``mir_eval``) of the tracked beats;
- melody: 1 - raw pitch accuracy (±50 cents, ``mir_eval``) of the pYIN f0 against the reference's.

Undefined values (no beats in either clip, no voiced frame in the reference) are NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import librosa
import numpy as np

from tada.errors import unknown_name
from tada.metrics.base import Clip, Metric
from tada.metrics.cache import ClipCache
from tada.resources import require

AXES: tuple[str, ...] = ("harmony", "ssm", "rhythm", "melody")
BEAT_WINDOW = 0.07
CENT_TOLERANCE = 50.0


def _features(wave: np.ndarray, sr: int, axes: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "harmony" in axes or "ssm" in axes:
            out["chroma"] = librosa.feature.chroma_cqt(y=wave, sr=sr)
        if "rhythm" in axes:
            _, frames = librosa.beat.beat_track(y=wave, sr=sr)
            out["beats"] = librosa.frames_to_time(frames, sr=sr)
        if "melody" in axes:
            fmin, fmax = librosa.note_to_hz("C2"), librosa.note_to_hz("C7")
            out["f0"] = librosa.pyin(wave, fmin=fmin, fmax=fmax, sr=sr)[0]
    return out


def harmony(a: np.ndarray, b: np.ndarray) -> float:
    """1 - mean cosine similarity of two chromagrams ``(12, frames)`` over their common frames."""
    t = min(a.shape[1], b.shape[1])
    a, b = a[:, :t], b[:, :t]
    cos = (a * b).sum(0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0) + 1e-9)
    return 1.0 - float(cos.mean())


def _ssm(chroma: np.ndarray) -> np.ndarray:
    unit = chroma / (np.linalg.norm(chroma, axis=0) + 1e-9)
    return (unit.T @ unit)[np.triu_indices(chroma.shape[1], k=1)]


def ssm(a: np.ndarray, b: np.ndarray) -> float:
    """1 - max(0, r) of the two chroma self-similarity matrices; identical matrices give 0 even
    when constant, other constant ones 1."""
    t = min(a.shape[1], b.shape[1])
    sa, sb = _ssm(a[:, :t]), _ssm(b[:, :t])
    if np.allclose(sa, sb):
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(sa, sb)[0, 1] if len(sa) > 1 else np.nan
    return 1.0 - max(float(r) if np.isfinite(r) else 0.0, 0.0)


def rhythm(beats: np.ndarray, reference: np.ndarray) -> float:
    """1 - beat F-measure of ``beats`` against the ``reference`` beat times (seconds)."""
    if len(beats) == 0 and len(reference) == 0:
        return float("nan")
    mir_eval = require("mir_eval", "the rhythm axis", "pip install mir_eval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 1.0 - float(mir_eval.beat.f_measure(reference, beats, f_measure_threshold=BEAT_WINDOW))


def melody(f0: np.ndarray, reference: np.ndarray) -> float:
    """1 - raw pitch accuracy of an f0 track (Hz, NaN = unvoiced) against the reference's."""
    mir_eval = require("mir_eval", "the melody axis", "pip install mir_eval")
    t = min(len(f0), len(reference))
    f0, reference = f0[:t], reference[:t]
    voiced, ref_voiced = ~np.isnan(f0), ~np.isnan(reference)
    if not ref_voiced.any():
        return float("nan")
    cents = mir_eval.melody.hz2cents(np.nan_to_num(f0))
    ref_cents = mir_eval.melody.hz2cents(np.nan_to_num(reference))
    accuracy = mir_eval.melody.raw_pitch_accuracy(ref_voiced, ref_cents, voiced, cents, CENT_TOLERANCE)
    return 1.0 - float(accuracy)


PAIRS = {
    "harmony": ("chroma", harmony),
    "ssm": ("chroma", ssm),
    "rhythm": ("beats", rhythm),
    "melody": ("f0", melody),
}


class MirMetric(Metric):
    """The chosen MIR distances of each clip to its reference, analysed at ``sample_rate``."""

    name = "mir"

    def __init__(self, axes: Sequence[str] = AXES, sample_rate: int = 22050, cache: ClipCache | None = None) -> None:
        super().__init__(cache)
        for axis in axes:
            if axis not in PAIRS:
                raise unknown_name("MIR axis", axis, PAIRS)
        self.columns = tuple(axes)
        self.sample_rate = sample_rate
        self.namespace = f"mir/{sample_rate}/{'-'.join(axes)}"

    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        features: dict[str, dict[str, np.ndarray]] = {}

        def feats(clip: Clip) -> dict[str, np.ndarray]:
            if clip.key not in features:
                features[clip.key] = _features(clip.resampled(self.sample_rate), self.sample_rate, self.columns)
            return features[clip.key]

        def compute(indices: list[int]) -> list[np.ndarray]:
            out = []
            for i in indices:
                a, b = feats(clips[i]), feats(references[i])
                out.append(np.array([fn(a[key], b[key]) for key, fn in (PAIRS[x] for x in self.columns)]))
            return out

        keys = [f"{c.key}-{r.key}" for c, r in zip(clips, references, strict=True)]
        return np.stack(self.cache.get_or_compute(self.namespace, keys, compute))
