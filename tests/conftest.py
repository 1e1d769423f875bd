"""Shared test settings: offline hub, one torch thread, a small random-weight mini model, checkout copies."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def copy_checkout():
    """``copy_checkout(dest, link_results=False)``: this checkout's files (tracked and new, times kept), its
    results (copied, or hard-linked when only read), Snakemake's metadata and, where there is one, the
    reference data beside it (``../shared``), for workflow runs that must not touch this checkout."""

    def copy(dest: Path, link_results: bool = False) -> None:
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
            check=True,
        ).stdout.decode().split("\0")  # fmt: skip
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
        shutil.rmtree(dest / "results", ignore_errors=True)
        shutil.copytree(ROOT / "results", dest / "results", copy_function=os.link if link_results else shutil.copy2)
        shutil.copytree(ROOT / ".snakemake" / "metadata", dest / ".snakemake" / "metadata", dirs_exist_ok=True)
        shared = ROOT.parent / "shared"  # the default reference data location (../shared), as beside this checkout
        if shared.is_dir() and not (dest.parent / "shared").exists():
            (dest.parent / "shared").symlink_to(shared.resolve())

    return copy
