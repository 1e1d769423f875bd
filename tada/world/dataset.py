"""Batches of rendered clips with captions and ground truth, saved as one ``.npz`` artifact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from tada.world.attributes import FAMILIES, Attributes
from tada.world.captions import TRAIN_TEMPLATES, random_caption
from tada.world.synth import Prior, check_prior, random_attributes, render


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
    prior: Prior | None = None,
) -> Clips:
    """Render ``n`` clips with random (drawn from ``prior``, see ``random_attributes``) or given attributes."""
    check_prior(prior or {})
    rng = np.random.default_rng(seed)
    attrs = attributes or [random_attributes(rng, prior) for _ in range(n)]
    waves = np.stack([render(a, rng, sample_rate, duration) for a in tqdm(attrs, desc="render clips", leave=False)])
    captions = [random_caption(a, rng, omit, templates) for a in attrs]
    return Clips(waves, captions, pd.DataFrame([a.as_dict() for a in attrs]), sample_rate)


def build_world(
    train_path: str | Path, valid_path: str | Path, examples_dir: str | Path, *, n_train: int, seed: int,
    sample_rate: int, duration: float, prior: Prior | None = None, n_valid: int = 400, n_examples: int = 8,
) -> None:
    """Render the training and validation sets, and a few example WAVs with their captions."""
    from tada.audio import write_wav

    train = make_clips(n_train, seed, sample_rate, duration, prior=prior)
    train.save(train_path)
    make_clips(n_valid, seed + 1, sample_rate, duration, prior=prior).save(valid_path)
    examples = Path(examples_dir)
    examples.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n_examples):
        write_wav(examples / f"example_{i}.wav", train.waves[i], sample_rate)
        lines.append(f"example_{i}.wav\t{train.captions[i]}\t{dict(train.attributes.iloc[i])}")
    (examples / "captions.tsv").write_text("\n".join(lines) + "\n")
