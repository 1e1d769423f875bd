"""A per-clip cache of metric values and features, keyed by clip content hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def content_hash(data: bytes) -> str:
    """Hex SHA-1 of some bytes (a file's content, a waveform's samples)."""
    return hashlib.sha1(data).hexdigest()


def checkpoint_tag(path_or_id: str | os.PathLike) -> str:
    """A short tag that changes when a checkpoint changes: for a local file or folder, a hash of
    its files' relative paths, sizes and modification times; otherwise the hub id itself."""
    path = Path(path_or_id)
    if not path.exists():
        return str(path_or_id).replace("/", "--")
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    stats = "".join(f"{p.relative_to(path.parent)}:{p.stat().st_size}:{p.stat().st_mtime_ns};" for p in files)
    return content_hash(stats.encode())[:16]


class ClipCache:
    """Arrays keyed by ``(namespace, key)``, kept in memory and, given ``root``, as ``.npy`` files.

    A namespace names what is cached and everything it depends on besides the clip (metric,
    model tag, parameters); a key is a clip's content hash, or two joined for a pair.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[tuple[str, str], np.ndarray] = {}

    def _file(self, namespace: str, key: str) -> Path:
        assert self.root is not None
        return self.root / content_hash(namespace.encode())[:16] / f"{key}.npy"

    def _get(self, namespace: str, key: str) -> np.ndarray | None:
        value = self._memory.get((namespace, key))
        if value is None and self.root is not None and (path := self._file(namespace, key)).is_file():
            value = self._memory[(namespace, key)] = np.load(path)
        return value

    def _put(self, namespace: str, key: str, value: np.ndarray) -> None:
        self._memory[(namespace, key)] = value
        if self.root is None:
            return
        path = self._file(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, value)
        os.replace(tmp, path)  # atomic: concurrent jobs never read half a file

    def get_or_compute(
        self, namespace: str, keys: Sequence[str], compute: Callable[[list[int]], Sequence[np.ndarray]]
    ) -> list[np.ndarray]:
        """The cached array of each key; ``compute(indices)`` fills the misses in one call
        (each missing key once, at the index of its first occurrence)."""
        values = [self._get(namespace, k) for k in keys]
        first = {k: i for i, k in reversed(list(enumerate(keys))) if values[i] is None}
        if first:
            indices = sorted(first.values())
            for i, value in zip(indices, compute(indices), strict=True):
                self._put(namespace, keys[i], np.asarray(value))
        return [v if v is not None else self._get(namespace, k) for k, v in zip(keys, values, strict=True)]
