"""Audiobox Aesthetics: content enjoyment / usefulness, production complexity / quality per clip."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tada.metrics.base import Clip, Metric
from tada.metrics.cache import ClipCache, checkpoint_tag
from tada.resources import require, resolve_checkpoint

HUB_ID = "facebook/audiobox-aesthetics"
#: predictor output key -> column (the frozen CSV's names)
AXES = {
    "CE": "content_enjoyment",
    "CU": "content_usefulness",
    "PC": "production_complexity",
    "PQ": "production_quality",
}
HOW = (
    "Download checkpoint.pt from the Hugging Face repo facebook/audiobox-aesthetics and pass its path "
    "(or have that repo in the local hub cache)."
)


class AestheticsMetric(Metric):
    """The four Audiobox Aesthetics scores of each clip (references are not used).

    ``checkpoint`` is a local ``checkpoint.pt``; ``None`` uses the hub repo, which must be in
    the local cache when offline.
    """

    name = "aesthetics"
    columns = tuple(AXES.values())

    def __init__(self, checkpoint: str | None = None, cache: ClipCache | None = None) -> None:
        super().__init__(cache)
        self.checkpoint = checkpoint
        self.namespace = f"aesthetics/{checkpoint_tag(checkpoint or HUB_ID)}"
        self._predictor: Any = None

    def _load(self) -> Any:
        if self._predictor is None:
            infer = require(
                "audiobox_aesthetics.infer",
                "Audiobox Aesthetics (quality)",
                "pip install audiobox_aesthetics (it needs torchaudio built for this torch).",
            )
            path = resolve_checkpoint(self.checkpoint or HUB_ID, what="Audiobox Aesthetics", how=HOW)
            local = self.checkpoint is not None
            self._predictor = infer.AesPredictor(checkpoint_pth=path if local else None, data_col="wav")
        return self._predictor

    def _compute(self, clips: list[Clip], references: list[Clip]) -> np.ndarray:
        def compute(indices: list[int]) -> list[np.ndarray]:
            predictor = self._load()
            todo = [clips[i] for i in indices]
            batch = [{"wav": torch.from_numpy(c.wave)[None], "sample_rate": c.sample_rate} for c in todo]
            return [np.array([row[k] for k in AXES]) for row in predictor.forward(batch)]

        return np.stack(self.cache.get_or_compute(self.namespace, [c.key for c in clips], compute))
