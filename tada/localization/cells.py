"""Cells of a localization: the patched clips of one (feature, preset), written and scored.

A cell directory ``<root>/<feature>/<preset>/`` holds ``audio/*.wav``, ``manifest.csv`` (what each
clip is) and ``scores.csv`` (its alignment to the clean concept's text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tada.audio import write_wav
from tada.errors import ConfigError
from tada.localization.impact import concept_text, score_audio
from tada.localization.patching import Patcher, Patching, clips
from tada.localization.studies import check_features
from tada.models import ModelAdapter, load_model
from tada.scoring.base import AudioTextScorer

MANIFEST_COLUMNS = ["feature", "preset", "variant", "reverse", "pair", "seed", "file", "generated", "patched_from"]
SCORE_COLUMNS = ["feature", "preset", "pair", "seed", "file", "text", "score"]


def write_cells(
    adapter: ModelAdapter,
    scorer: AudioTextScorer,
    pairs: pd.DataFrame,
    feature: str,
    presets: Sequence[str],
    root: str | Path,
    patching: Patching = Patching(),
    seeds_per_pair: int = 1,
    batch_size: int = 16,
    noise: str = "per_clip",
    loudness: str = "per_clip",
) -> dict[str, pd.DataFrame]:
    """Generate, write and score the cells of ``feature`` under each preset (one sweep); returns
    each cell's scores.

    ``noise: reference`` draws the feature's latents as the reference does: ``seeds_per_pair`` latents
    per prompt from one generator for all its prompts (clip seed ``pair * seeds_per_pair + j`` is its row).
    ``loudness: reference`` levels each generated batch as the reference's patching does (Stable Audio: by
    the batch's own peak; the batches are then the reference's when ``batch_size`` is its, 16).
    """
    check_features(adapter.arch, [feature])
    table = clips(pairs[pairs.original_feature == feature], seeds_per_pair)
    if table.empty:
        raise ConfigError(f"no prompt pairs for feature '{feature}'")
    config = adapter.generation_config("patching").with_(noise=noise, loudness=loudness)
    if noise == "reference":
        config = config.with_(noise_rows=len(table))
    patcher = Patcher(adapter, config=config, patching=patching, batch_size=batch_size)
    patcher.resolve(presets)
    text = concept_text(adapter.arch, feature)
    parts: dict[str, list[pd.DataFrame]] = {p: [] for p in presets}
    for batch in patcher.sweep(table, presets):
        cell = Path(root) / feature / batch.preset
        files = [f"audio/p{r.pair:04d}_s{r.seed}.wav" for r in batch.clips.itertuples()]
        for file, wave in zip(files, batch.audio.waveforms, strict=True):
            write_wav(cell / file, wave, batch.audio.sample_rate)
        source, target = patching.prompts(batch.clips.clean_prompt.tolist(), batch.clips.corrupted_prompt.tolist())
        parts[batch.preset].append(
            batch.clips.assign(
                feature=feature,
                preset=batch.preset,
                variant=patching.variant,
                reverse=patching.reverse,
                file=files,
                generated=target,
                patched_from=source,
                text=text,
                score=score_audio(scorer, batch.audio, [text] * len(files)),
            )
        )
    scores = {}
    for preset, frames in parts.items():
        cell = Path(root) / feature / preset
        table = pd.concat(frames, ignore_index=True)
        table[MANIFEST_COLUMNS].to_csv(cell / "manifest.csv", index=False)
        table[SCORE_COLUMNS].to_csv(cell / "scores.csv", index=False)
        scores[preset] = table[SCORE_COLUMNS]
    return scores


def run_cells(
    arch: str,
    checkpoint: str,
    load_options: Mapping[str, Any],
    pairs_file: str | Path,
    feature: str,
    presets: Sequence[str],
    root: str | Path,
    scorer_loader: Callable[[], AudioTextScorer],
    patching: Patching = Patching(),
    seeds_per_pair: int = 1,
    noise: str = "per_clip",
    loudness: str = "per_clip",
) -> dict[str, pd.DataFrame]:
    """Load the model and scorer (``scorer_loader()``) once and write the cells of ``feature``.

    The feature and every preset are checked before the scorer is loaded or anything generated.
    """
    check_features(arch, [feature])
    pairs = pd.read_parquet(pairs_file)
    options = dict(load_options)
    if isinstance(options.get("dtype"), str):
        options["dtype"] = getattr(torch, options["dtype"])
    adapter = load_model(arch, checkpoint, **options)
    registry = adapter.registry()
    for preset in presets:
        patching.sites(registry, preset)
    return write_cells(adapter, scorer_loader(), pairs, feature, presets, root, patching, seeds_per_pair, noise=noise, loudness=loudness)
