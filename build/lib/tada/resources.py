"""What a model or metric needs from outside the package: checkpoints (local or on the Hub) and optional packages."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from tada.errors import MissingCheckpointError, MissingPackageError


def require(package: str, purpose: str, hint: str = "") -> ModuleType:
    """Import ``package`` or raise one clear :class:`MissingPackageError`."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise MissingPackageError(
            f"{purpose} needs the Python package '{package.split('.')[0]}', which is not installed. {hint}".strip()
        ) from err


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks the Hugging Face libraries not to reach the Hub."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in {"0", "false", "False", ""}


def resolve_checkpoint(path_or_id: str | os.PathLike, *, what: str, how: str) -> str:
    """Check that a checkpoint is reachable before anything is built.

    A local path must exist. A hub id must be in the local cache when ``HF_HUB_OFFLINE=1``.
    ``what`` names the model, ``how`` says how to obtain it.
    """
    s = str(path_or_id)
    p = Path(s).expanduser()
    looks_local = p.exists() or s.startswith((".", "/", "~")) or s.count("/") != 1
    if looks_local:
        if not p.exists():
            raise MissingCheckpointError(f"{what} checkpoint not found at '{s}'. {how}")
        return str(p)
    if hub_offline():
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(s, local_files_only=True)
        except Exception as err:  # noqa: BLE001 - any miss means the same thing to the user
            raise MissingCheckpointError(
                f"{what} checkpoint '{s}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1. {how}"
            ) from err
    return s
