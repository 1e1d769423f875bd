"""Render clips of the synthetic world from attributes with known values.

Every clip is a sequence of chord events on a beat grid: the root and third of the tonic triad,
sometimes its fifth, with the third major for ``happy`` and minor for ``sad``, in the key of C, D or
E (slightly detuned) in a low (octave 3) or high (octave 4) register, at about 2 (``slow``) or 5
(``fast``) detached events per second, played by one of four timbres. Key, tuning, beat length,
voicings, onset jitter, gate, phase, loudness, vibrato and noise are random per clip, so no two
clips match.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tada.world.attributes import FAMILIES, Attributes

THIRD = {"happy": 4, "sad": 3}  # semitones above the root
KEYS = {"low": (130.81, 146.83, 164.81), "high": (261.63, 293.66, 329.63)}  # C, D, E in octaves 3 and 4
BEAT_SECONDS = {"slow": (0.48, 0.52), "fast": (0.19, 0.21)}


#: family -> value -> probability of a clip having that value; families left out are drawn uniformly
Prior = Mapping[str, Mapping[str, float]]


def check_prior(prior: Prior) -> None:
    """Refuse a prior that names an unknown family or value, or whose probabilities do not sum to 1."""
    for family, probs in prior.items():
        if family not in FAMILIES:
            raise ValueError(f"world prior: unknown family {family!r}; families: {', '.join(FAMILIES)}")
        if set(probs) != set(FAMILIES[family]):
            unknown = sorted(set(probs) - set(FAMILIES[family]))
            raise ValueError(
                f"world prior of {family}: " + (f"unknown value(s) {', '.join(unknown)}; " if unknown else "")
                + f"give a probability for each of {', '.join(FAMILIES[family])}"
            )
        if abs(sum(probs.values()) - 1) > 1e-6 or min(probs.values()) < 0:
            raise ValueError(f"world prior of {family}: probabilities {dict(probs)} must be >= 0 and sum to 1")


def random_attributes(rng: np.random.Generator, prior: Prior | None = None) -> Attributes:
    """Attributes drawn from every family: uniformly, or with the probabilities ``prior`` gives a family."""
    prior = prior or {}
    return Attributes(**{
        f: str(rng.choice(values, p=[prior[f][v] for v in values]) if f in prior else rng.choice(values))
        for f, values in FAMILIES.items()
    })


def _partials(instrument: str, f0: float, sample_rate: int) -> list[tuple[float, float]]:
    """(frequency, amplitude) pairs of one note, kept below Nyquist."""
    nyq = sample_rate / 2 - 100
    if instrument == "violin":  # bright sawtooth
        parts = [(k * f0, 1.0 / k) for k in range(1, 40)]
    elif instrument == "flute":  # nearly pure, weak second harmonic
        parts = [(f0, 1.0), (2 * f0, 0.12), (3 * f0, 0.03)]
    elif instrument == "trumpet":  # brass: energy peaking around the 3rd-5th harmonic
        parts = [(k * f0, (k / 4.0) * np.exp(1 - k / 4.0)) for k in range(1, 25)]
    else:  # xylophone: inharmonic bar modes
        parts = [(f0, 1.0), (3.93 * f0, 0.35), (9.0 * f0, 0.08)]
    return [(f, a) for f, a in parts if f < nyq]


def _envelope(instrument: str, n: int, sample_rate: int) -> np.ndarray:
    t = np.arange(n) / sample_rate
    release = np.clip((n / sample_rate - t) / 0.02, 0, 1)
    if instrument == "xylophone":
        return np.minimum(t / 0.003, 1) * np.exp(-t / 0.07) * release
    attack = {"violin": 0.05, "flute": 0.04, "trumpet": 0.015}[instrument]
    return np.minimum(t / attack, 1) * release


def _note(instrument: str, f0: float, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sample_rate
    vib = 1 + (0.006 if instrument == "violin" else 0.0) * np.sin(2 * np.pi * rng.uniform(5, 6.5) * t)
    glide = 1 - (0.02 * np.exp(-t / 0.03) if instrument == "trumpet" else 0)
    inst_phase = 2 * np.pi * np.cumsum(vib * glide) / sample_rate
    out = np.zeros(n)
    for f, a in _partials(instrument, f0, sample_rate):
        out += a * np.sin(f * inst_phase + rng.uniform(0, 2 * np.pi))
    if instrument == "flute":  # breath noise
        out += 0.05 * rng.standard_normal(n) * np.abs(np.sin(f0 * inst_phase))
    return out * _envelope(instrument, n, sample_rate)


def render(attrs: Attributes, rng: np.random.Generator, sample_rate: int = 8000, duration: float = 1.024) -> np.ndarray:
    """One mono clip, float32 in [-1, 1]."""
    n_total = int(round(sample_rate * duration))
    out = np.zeros(n_total)
    root = rng.choice(KEYS[attrs.register]) * 2 ** (rng.uniform(-0.1, 0.1) / 12)  # +-10 cents
    chord = np.array([0, THIRD[attrs.mood], 7])  # the third is in every voicing
    beat = rng.uniform(*BEAT_SECONDS[attrs.tempo])
    for k in range(int(duration / beat) + 1):
        start = k * beat + rng.uniform(0, 0.008)
        if start >= duration - 0.05:
            break
        voicings = [[0, 1], [0, 1, 2]]  # root and third always sound: the mood is never ambiguous
        semis = chord[voicings[rng.integers(len(voicings))]]
        # detached notes (a gap before the next onset), so tempo is a strong rhythm of sound and silence
        i0, n = int(start * sample_rate), int(beat * rng.uniform(0.5, 0.62) * sample_rate)
        n = min(n, n_total - i0)
        gain = rng.uniform(0.7, 1.0)
        for s in semis:
            out[i0 : i0 + n] += gain * _note(attrs.instrument, root * 2 ** (s / 12), n, sample_rate, rng)
    out += 0.003 * rng.standard_normal(n_total)
    out *= rng.uniform(0.5, 0.9) / (np.abs(out).max() + 1e-9)
    return out.astype(np.float32)
