"""Which sites a localization sweeps and what it is compared against, known before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

from tada.errors import unknown_name
from tada.models import ARCHITECTURES
from tada.sites import PRESETS_DIR, Site, SiteRegistry


def layer_names(arch: str, mini_layers: int = 6) -> list[str]:
    """Whole cross-attention layers of ``arch`` in model order: ``tf0..`` of the mini model at its
    configured depth, and the layouts of the reference checkpoints for the real architectures."""
    if arch not in ARCHITECTURES:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    if arch == "mini":
        return [f"tf{n}" for n in range(mini_layers)]
    from tada.testing import tiny

    if arch == "audioldm2":
        from tada.models.audioldm2 import AudioLDM2Adapter

        return [s.name for s in SiteRegistry(arch, AudioLDM2Adapter.sites_of(tiny.meta_audioldm2())).layers]
    depth = {
        "stable_audio": tiny.STABLE_AUDIO_OPEN_DIT["num_layers"],
        "ace_step_v1": tiny.ACE_STEP_V1_DIT["num_layers"],
        "ace_step_15": tiny.ACE_STEP_15_DIT["num_hidden_layers"],
    }[arch]
    return [f"tf{n}" for n in range(depth)]


def mini_truth(model_config: str | Path) -> list[str]:
    """Ground-truth sites of a trained mini model: its ``semantic_blocks`` as ``tfN``."""
    return [f"tf{b}" for b in json.loads(Path(model_config).read_text())["semantic_blocks"]]


def reference_sites(arch: str, layers: list[str]) -> list[str] | None:
    """The layers of the reference's localized preset of ``arch``, if one ships."""
    path = PRESETS_DIR / arch / "localized.yaml"
    if not path.is_file():
        return None
    return [s.name for s in SiteRegistry(arch, [Site(n, n) for n in layers]).resolve(path)]
