"""Spectrograms, their inversion (Griffin-Lim) and WAV input/output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

N_FFT = 512
HOP = 256


def _window(device: torch.device | str = "cpu", n_fft: int = N_FFT) -> torch.Tensor:
    return torch.hann_window(n_fft, device=device)


def log_spectrogram(waves: torch.Tensor | np.ndarray, n_fft: int = N_FFT, n_bins: int | None = None) -> torch.Tensor:
    """Log-magnitude STFT ``(batch, n_bins, frames)`` of mono waves ``(batch, samples)``.

    By default ``n_bins = n_fft // 2`` (the Nyquist bin is dropped) and the last frame is dropped,
    so both axes are powers of two for power-of-two clip lengths.
    """
    x = torch.as_tensor(np.asarray(waves) if not isinstance(waves, torch.Tensor) else waves, dtype=torch.float32)
    spec = torch.stft(x, n_fft, HOP, window=_window(x.device, n_fft), return_complex=True)
    return torch.log1p(spec.abs()[:, : n_bins or n_fft // 2, :-1] * 10.0)


def griffin_lim(log_spec: torch.Tensor, n_samples: int, n_iter: int = 32) -> torch.Tensor:
    """Waves ``(batch, n_samples)`` whose log-spectrogram (its lowest bins) approximates ``log_spec``.

    Starts from zero phase, so the result is a deterministic function of its input.
    """
    mag = torch.expm1(log_spec.clamp(min=0)) / 10.0
    mag = torch.nn.functional.pad(mag, (0, 1, 0, N_FFT // 2 + 1 - mag.shape[1]))  # bins cut above are silent
    window = _window(mag.device)
    spec = mag.to(torch.complex64)
    for _ in range(n_iter):
        wave = torch.istft(spec, N_FFT, HOP, window=window, length=n_samples)
        rebuilt = torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)
        spec = mag * torch.exp(1j * torch.angle(rebuilt))
    wave = torch.istft(spec, N_FFT, HOP, window=window, length=n_samples)
    return wave / wave.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono ``(samples,)`` or ``(channels, samples)`` clip as 16-bit PCM."""
    wave = np.asarray(wave, dtype=np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave.T if wave.ndim == 2 else wave, sample_rate, subtype="PCM_16")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A mono float32 wave and its sample rate (channels are averaged)."""
    wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return wave.mean(axis=1), sr


def windows(n_samples: int, sample_rate: int, window_seconds: float, overlap: float = 0.1) -> list[slice]:
    """Windows of ``window_seconds`` (clamped to the clip) with the given overlap fraction; a last
    window is aligned to the end when the hops do not reach it."""
    size = max(1, min(n_samples, round(window_seconds * sample_rate)))
    hop = max(1, round(size * (1 - overlap)))
    starts = list(range(0, n_samples - size + 1, hop))
    if starts[-1] + size < n_samples:
        starts.append(n_samples - size)
    return [slice(s, s + size) for s in starts]
