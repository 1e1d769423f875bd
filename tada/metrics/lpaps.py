"""LPAPS: an LPIPS-style distance without learned weights on an audio encoder's stage features.

Per window: each stage's feature map is unit-normalised over channels at every position, the
squared difference to the reference's is summed over channels and averaged over positions,
and the stages are summed. A clip's LPAPS is the mean over its windows.
"""

from __future__ import annotations

import numpy as np
import torch

from tada.audio import windows
from tada.metrics.base import Clip, Metric, stack
from tada.metrics.cache import ClipCache
from tada.scoring.base import AudioTextScorer


def stage_distance(a: list[torch.Tensor], b: list[torch.Tensor], eps: float = 1e-10) -> torch.Tensor:
    """LPAPS ``(batch,)`` between two lists of stage feature maps ``(batch, channels, ...)``."""
    total = 0.0
    for fa, fb in zip(a, b, strict=True):
        fa = fa.float() / (fa.float().norm(dim=1, keepdim=True) + eps)
        fb = fb.float() / (fb.float().norm(dim=1, keepdim=True) + eps)
        total = total + ((fa - fb) ** 2).sum(dim=1).flatten(1).mean(dim=1)
    return total


def lpaps(
    scorer: AudioTextScorer,
    wave: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    window_seconds: float = 10.0,
    overlap: float = 0.1,
) -> float:
    """LPAPS between a clip and its reference (same rate; trimmed to the shorter one).

    Windows never reach past the clip: a clip shorter than ``window_seconds`` (9 s patching clips
    against the 10 s default) is compared as one window of its own length.
    """
    n = min(len(wave), len(reference))
    spans = windows(n, sample_rate, window_seconds, overlap)
    batch = stack([w[s] for w in (wave, reference) for s in spans])
    with torch.no_grad():
        stages = scorer.audio_stages(batch, sample_rate)
    k = len(spans)
    return float(stage_distance([f[:k] for f in stages], [f[k:] for f in stages]).mean())


class LpapsMetric(Metric):
    """LPAPS of each clip against its reference, on ``scorer.audio_stages``; ``tag`` identifies
    the scorer's checkpoint in the cache (without it, cached values are tied to the object)."""

    name = "lpaps"
    columns = ("lpaps",)

    def __init__(
        self,
        scorer: AudioTextScorer,
        window_seconds: float = 10.0,
        overlap: float = 0.1,
        tag: str | None = None,
        cache: ClipCache | None = None,
    ) -> None:
        super().__init__(cache)
        self.scorer, self.window_seconds, self.overlap = scorer, window_seconds, overlap
        self.namespace = f"lpaps/{tag or f'object-{id(scorer)}'}/w{window_seconds}/o{overlap}"

    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        def compute(indices: list[int]) -> list[np.ndarray]:
            out = []
            for i in indices:
                clip, ref = clips[i], references[i]
                if clip.key == ref.key:  # a clip against itself (the alpha=0 rows)
                    out.append(np.zeros(1))
                    continue
                ref_wave = ref.resampled(clip.sample_rate)
                args = (clip.sample_rate, self.window_seconds, self.overlap)
                out.append(np.array([lpaps(self.scorer, clip.wave, ref_wave, *args)]))
            return out

        keys = [f"{c.key}-{r.key}" for c, r in zip(clips, references, strict=True)]
        return np.concatenate(self.cache.get_or_compute(self.namespace, keys, compute))
