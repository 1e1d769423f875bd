"""Recognise the attribute values of clips with an audio-text scorer, and measure accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from tada.scoring.base import AudioTextScorer
from tada.world.attributes import FAMILIES


def recognise(scorer: AudioTextScorer, waves: np.ndarray, sample_rate: int) -> pd.DataFrame:
    """Per clip and family, the value whose word is most similar to the clip."""
    return recognise_embeddings(scorer, scorer.embed_audio(waves, sample_rate))


def recognise_embeddings(scorer: AudioTextScorer, emb: torch.Tensor) -> pd.DataFrame:
    """:func:`recognise` for audio already embedded by ``scorer``."""
    out = {}
    for family, values in FAMILIES.items():
        sims = (emb @ scorer.embed_text(list(values)).T).cpu().numpy()
        out[family] = np.asarray(values)[sims.argmax(axis=1)]
    return pd.DataFrame(out)


def accuracy(predicted: pd.DataFrame, truth: pd.DataFrame, families: list[str] | None = None) -> dict[str, float]:
    """Fraction of clips whose predicted value matches the truth, per family."""
    return {f: float((predicted[f].to_numpy() == truth[f].to_numpy()).mean()) for f in families or list(FAMILIES)}
