"""Full-size denoiser structures of the real architectures, without weights.

The JSON files here (package data) are the denoiser configs of the checkpoints the reference used;
keys starting with ``_`` are notes. An adapter builds its structure from one of them on the meta
device (module names, counts and widths, no memory), or from a user's checkpoint config instead: a
mapping, a ``config.json``, or a checkpoint folder holding ``<subfolder>/config.json``.
``_sites.json`` lists every site of each shipped structure, and :func:`mini_sites` the mini model's at
any depth, so that a workflow checks site names while planning, without importing a model library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from tada.errors import ConfigError, unknown_name
from tada.sites import Site, dit_sites

STRUCTURES_DIR = Path(__file__).resolve().parent

#: a shipped structure's name, a config mapping, a ``config.json`` or a checkpoint folder
StructureConfig = Union[str, os.PathLike, Mapping[str, Any]]


def shipped() -> list[str]:
    """Names of the structures shipped with the package (``_sites.json`` holds their sites, not a structure)."""
    return sorted(p.stem for p in STRUCTURES_DIR.glob("*.json") if not p.stem.startswith("_"))


def load_config(config: StructureConfig, subfolder: str | None = None) -> dict[str, Any]:
    """The config dict of ``config``: a shipped name, a mapping, a JSON file or a checkpoint folder
    (``<folder>/<subfolder>/config.json``, else ``<folder>/config.json``)."""
    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config).expanduser()
    if path.is_dir():
        candidates = [path / subfolder / "config.json"] if subfolder else []
        candidates.append(path / "config.json")
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"no denoiser config in {path}: expected {' or '.join(map(str, candidates))}")
        path = found
    elif not path.is_file():
        if path.suffix or len(path.parts) > 1:
            raise ConfigError(f"denoiser config {path} does not exist")
        if str(config) not in shipped():
            raise unknown_name("shipped denoiser structure", str(config), shipped())
        path = STRUCTURES_DIR / f"{config}.json"
    return json.loads(path.read_text())


def init_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments of a config: every key but the notes (``_class_name``, ``_source``…)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}


def build_on_meta(model_cls: type[nn.Module], config: Mapping[str, Any]) -> nn.Module:
    """``model_cls`` built from ``config`` on the meta device: the whole module tree, no weights.

    Diffusers models go through ``from_config`` (which ignores keys a newer release added)."""
    with torch.device("meta"):
        if hasattr(model_cls, "from_config"):
            return model_cls.from_config(dict(config))
        return model_cls(**init_kwargs(config))


def mini_sites(num_layers: int) -> list[Site]:
    """Every site of the mini model with ``num_layers`` blocks: ``tfN`` / ``tfNk`` / ``tfNv`` at block N's
    text cross-attention (``attn2``), ``tfNself`` at its self-attention (``attn1``)."""
    return dit_sites(num_layers, "transformer_blocks.{}.attn2", "transformer_blocks.{}.attn1")
