"""Batches of rendered clips with captions and ground truth, saved as one ``.npz`` artifact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from tada.world.attributes import FAMILIES, Attributes
from tada.world.captions import TRAIN_TEMPLATES, random_caption
from tada.world.synth import random_attributes, render


@dataclass
class Clips:
    """Rendered clips: ``waves (n, samples)``, their captions and attribute values."""

    waves: np.ndarray
    captions: list[str]
    attributes: pd.DataFrame
    sample_rate: int

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        cols = {f"attr_{f}": self.attributes[f].to_numpy(dtype=str) for f in FAMILIES}
        np.savez_compressed(
            path, waves=self.waves, captions=np.array(self.captions), sample_rate=self.sample_rate, **cols
        )

    @classmethod
    def load(cls, path: str | Path) -> Clips:
        with np.load(path) as z:
            attrs = pd.DataFrame({f: z[f"attr_{f}"].astype(str) for f in FAMILIES})
            return cls(z["waves"], [str(c) for c in z["captions"]], attrs, int(z["sample_rate"]))


def make_clips(
    n: int,
    seed: int,
    sample_rate: int = 8000,
    duration: float = 1.024,
    omit: float = 0.2,
    templates: tuple[str, ...] = TRAIN_TEMPLATES,
    attributes: list[Attributes] | None = None,
) -> Clips:
    """Render ``n`` clips with random (or given) attributes and captions."""
    rng = np.random.default_rng(seed)
    attrs = attributes or [random_attributes(rng) for _ in range(n)]
    waves = np.stack([render(a, rng, sample_rate, duration) for a in tqdm(attrs, desc="render clips", leave=False)])
    captions = [random_caption(a, rng, omit, templates) for a in attrs]
    return Clips(waves, captions, pd.DataFrame([a.as_dict() for a in attrs]), sample_rate)
