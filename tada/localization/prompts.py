"""Prompt pairs for patching: built from MusicCaps-format captions, loaded from a pairs file or the
published dataset, or (mini world) generated from the world's own captions.

Every source yields a frame with :data:`COLUMNS`; bad input raises a :class:`~tada.errors.TadaError`
before any model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tada.errors import ConfigError, MissingCheckpointError, missing_prompt_file
from tada.localization.studies import check_features, study
from tada.resources import hub_offline

COLUMNS = ["original_feature", "clean_prompt", "corrupted_prompt"]
#: the published prompt pairs (3,246 rows over the 21 MusicCaps features)
HUB_DATASET = "lukasz-staniszewski/patching-music-musiccaps-prompts"
#: the caption column of the MusicCaps CSV
CAPTION = "caption"


def pairs_from_captions(arch: str, captions: Sequence[str], features: Sequence[str], limit: int) -> pd.DataFrame:
    """For each feature, the first ``limit`` captions that match it, with their corrupted versions."""
    rows = []
    for feature in check_features(arch, features):
        kept = [" ".join(c.split()) for c in captions if isinstance(c, str) and feature.matches(c)][:limit]
        rows += [(feature.name, c, feature.corrupt(c)) for c in kept]
    return pd.DataFrame(rows, columns=COLUMNS)


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or parquet file; a missing or empty file raises :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise missing_prompt_file(
            path, f"a CSV or parquet file of pairs ({', '.join(COLUMNS)}) or with a '{CAPTION}' column (MusicCaps)"
        )
    if path.stat().st_size == 0:
        raise ConfigError(f"prompt file {path} is empty")
    parquet = path.suffix == ".parquet"
    try:
        table = pd.read_parquet(path) if parquet else pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError, ValueError) as err:
        raise ConfigError(f"prompt file {path} cannot be read as {'parquet' if parquet else 'CSV'}: {err}") from err
    if table.empty:
        raise ConfigError(f"prompt file {path} has no rows")
    return table


def build_pairs(arch: str, path: str | Path, features: Sequence[str], limit: int) -> pd.DataFrame:
    """Pairs from a MusicCaps-format CSV (a ``caption`` column), at most ``limit`` per feature."""
    check_features(arch, features)
    table = read_table(path)
    if CAPTION not in table.columns:
        raise ConfigError(f"{path} has no '{CAPTION}' column (columns: {', '.join(map(str, table.columns))})")
    return pairs_from_captions(arch, table[CAPTION].tolist(), features, limit)


def validate_pairs(table: pd.DataFrame, source: str, arch: str, features: Sequence[str], limit: int) -> pd.DataFrame:
    """The rows of ``features`` (at most ``limit`` each) of a pairs table, checking its columns."""
    check_features(arch, features)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(
            f"{source} lacks column(s) {', '.join(missing)} (has {', '.join(map(str, table.columns))}); "
            f"a pairs file needs {', '.join(COLUMNS)}"
        )
    table = table[COLUMNS].dropna()
    out = pd.concat([table[table.original_feature == f].head(limit) for f in features], ignore_index=True)
    empty = [f for f in features if not (out.original_feature == f).any()]
    if empty:
        raise ConfigError(f"{source} has no pairs for feature(s) {', '.join(empty)}")
    return out


def read_pairs(arch: str, path: str | Path, features: Sequence[str], limit: int) -> pd.DataFrame:
    """Pairs from a prompt file: a pairs CSV/parquet, or a MusicCaps CSV to build them from."""
    table = read_table(path)
    if CAPTION in table.columns and not set(COLUMNS) <= set(table.columns):
        return build_pairs(arch, path, features, limit)
    return validate_pairs(table, str(path), arch, features, limit)


def load_published_pairs(
    arch: str, features: Sequence[str], limit: int, repo_id: str = HUB_DATASET
) -> pd.DataFrame:
    """The published pairs from the Hugging Face hub (or its local cache)."""
    check_features(arch, features)
    how = (
        f"Download it while online (`datasets.load_dataset('{repo_id}')`), or set "
        "localization.prompt_files.<arch> to a MusicCaps CSV or a pairs file."
    )
    offline = hub_offline()
    try:
        from datasets import load_dataset

        table = load_dataset(repo_id, split="train").to_pandas()
    except Exception as err:  # noqa: BLE001 - offline, missing or unreachable all mean the same here
        state = "is not in the local cache and HF_HUB_OFFLINE=1" if offline else f"could not be loaded ({err})"
        raise MissingCheckpointError(f"prompt-pair dataset '{repo_id}' {state}. {how}") from err
    return validate_pairs(table, repo_id, arch, features, limit)


def prompt_pairs(
    arch: str, features: Sequence[str], limit: int, source: str | Path | None = None, seed: int = 0
) -> pd.DataFrame:
    """The pairs a localization of ``arch`` runs on: from ``source`` when given, else its study's own
    (:meth:`~tada.localization.studies.Study.default_pairs`: the published dataset, or the mini world's)."""
    check_features(arch, features)
    if source:
        return read_pairs(arch, source, features, limit)
    return study(arch).default_pairs(features, limit, seed)
