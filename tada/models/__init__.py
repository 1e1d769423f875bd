"""Architectures behind one adapter interface, looked up by name."""

from __future__ import annotations

import importlib
from typing import Any

from tada.errors import unknown_name
from tada.models.base import Audio, GenerationConfig, ModelAdapter, PromptEncoding, resolve_checkpoint

#: architecture name -> "module:class" of its adapter (imported on first use)
ARCHITECTURES: dict[str, str] = {
    "mini": "tada.models.mini:MiniAdapter",
    "stable_audio": "tada.models.stable_audio:StableAudioAdapter",
    "audioldm2": "tada.models.audioldm2:AudioLDM2Adapter",
    "ace_step_v1": "tada.models.ace_step:AceStepV1Adapter",
    "ace_step_15": "tada.models.ace_step:AceStep15Adapter",
}
#: architecture name -> the audio-text scorer its clips are evaluated with (``tada.metrics.registry``);
#: kept here, not on the adapter class, so that scoring jobs need not import the model's libraries
SCORERS: dict[str, str] = {"mini": "mini"} | {arch: "clap" for arch in ARCHITECTURES if arch != "mini"}


def adapter_class(arch: str) -> type[ModelAdapter]:
    """The adapter class registered as ``arch``; an unknown name lists the valid ones."""
    if arch not in ARCHITECTURES:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    module, cls = ARCHITECTURES[arch].split(":")
    return getattr(importlib.import_module(module), cls)


def scorer_of(arch: str) -> str:
    """The scorer ``arch``'s clips are evaluated with; an unknown name lists the valid ones."""
    if arch not in SCORERS:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    return SCORERS[arch]


def load_model(arch: str, path_or_id: str, **kwargs: Any) -> ModelAdapter:
    """Load architecture ``arch`` from a local folder or hub id (see the adapter's ``from_pretrained``)."""
    return adapter_class(arch).from_pretrained(path_or_id, **kwargs)


__all__ = [
    "ARCHITECTURES",
    "Audio",
    "GenerationConfig",
    "ModelAdapter",
    "PromptEncoding",
    "SCORERS",
    "adapter_class",
    "load_model",
    "resolve_checkpoint",
    "scorer_of",
]
