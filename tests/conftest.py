"""Shared test settings: offline hub, one torch thread, a small random-weight mini model."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def tiny_mini():
    """An untrained 3-block mini model (random weights) wrapped in its adapter."""
    from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic

    torch.manual_seed(0)
    vocab = ["violin", "trumpet", "flute", "xylophone", "fast", "slow", "happy", "sad", "a", "melody", "low", "high"]
    model = MiniTextToMusic(MiniConfig(vocab=vocab, num_layers=3, width=32, heads=2, n_freq=256, n_frames=32, steps=3))
    return MiniAdapter(model)
