"""Which sites a localization sweeps and what it is compared against, known before any model loads."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from tada.models import adapter_class
from tada.models.structures import STRUCTURES_DIR, StructureConfig
from tada.sites import PRESETS_DIR, Site, SiteRegistry


def structure_layers(arch: str, structure: StructureConfig | None = None) -> list[str]:
    """Whole cross-attention layers of a real architecture in model order, known before any model loads:
    those of its adapter's full-size structure (``structure_sites``), the reference checkpoint's denoiser
    config shipped in ``tada/models/structures/`` (its sites read from ``_sites.json``), or ``structure``
    (a checkpoint folder, a ``config.json`` or a mapping) for another checkpoint of the architecture."""
    if structure is None:
        return [s.name for s in SiteRegistry(arch, shipped_sites()[arch]).layers]
    if isinstance(structure, (str, Path)):
        return list(_structure_layers(arch, str(structure)))
    return [s.name for s in SiteRegistry(arch, adapter_class(arch).structure_sites(structure)).layers]


@lru_cache(maxsize=None)
def shipped_sites() -> dict[str, list[Site]]:
    """Every site of each real architecture's shipped structure, as data (``structures/_sites.json``): a
    workflow plans and checks presets without importing the model libraries; a test checks them against
    the structures."""
    rows = json.loads((STRUCTURES_DIR / "_sites.json").read_text())
    return {arch: [Site(*row) for row in sites] for arch, sites in rows.items()}


@lru_cache(maxsize=None)
def _structure_layers(arch: str, structure: str | None) -> tuple[str, ...]:
    return tuple(s.name for s in SiteRegistry(arch, adapter_class(arch).structure_sites(structure)).layers)


def mini_truth(model_config: str | Path) -> list[str]:
    """Ground-truth sites of a trained mini model: its ``semantic_blocks`` as ``tfN``."""
    return [f"tf{b}" for b in json.loads(Path(model_config).read_text())["semantic_blocks"]]


def reference_sites(arch: str, layers: list[str]) -> list[str] | None:
    """The layers of the reference's localized preset of ``arch``, if one ships."""
    path = PRESETS_DIR / arch / "localized.yaml"
    if not path.is_file():
        return None
    return [s.name for s in SiteRegistry(arch, [Site(n, n) for n in layers]).resolve(path)]
