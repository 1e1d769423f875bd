"""Per-clip metrics of a sweep directory (``manifest.csv`` + WAV files).

Each clip is compared with the alpha=0 clip of the same prompt and seed; metrics run on one
alpha at a time, so set metrics (FAD) compare one alpha's clips with the alpha=0 set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tada.errors import TadaError
from tada.manifest import MANIFEST_COLUMNS
from tada.metrics.aesthetics import AestheticsMetric
from tada.metrics.alignment import AlignmentMetric
from tada.metrics.base import Clip, Metric, MetricReport, compute_metrics
from tada.metrics.cache import ClipCache, checkpoint_tag
from tada.metrics.fad import FadMetric, ScorerEmbedding, VGGishEmbedding
from tada.metrics.lpaps import LpapsMetric
from tada.metrics.mir import MirMetric
from tada.metrics.registry import load_scorer, scorer_name, scorer_tag
from tada.scoring.base import AudioTextScorer

#: optional metrics a sweep can add to alignment and LPAPS
EXTRAS: tuple[str, ...] = ("muqt", "fad", "aesthetics", "mir")


def load_manifest(sweep_dir: str | Path) -> pd.DataFrame:
    """Read and check ``manifest.csv``: its columns, and one alpha=0 clip per (prompt_id, seed)."""
    path = Path(sweep_dir) / "manifest.csv"
    if not path.is_file():
        raise TadaError(f"no sweep manifest at '{path}'")
    manifest = pd.read_csv(path)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise TadaError(f"{path} lacks column(s) {missing}; expected {list(MANIFEST_COLUMNS)}")
    base = manifest[manifest["alpha"] == 0]
    if base.duplicated(["prompt_id", "seed"]).any():
        raise TadaError(f"{path}: more than one alpha=0 clip for some (prompt_id, seed)")
    pairs = manifest[["prompt_id", "seed"]].drop_duplicates()
    lacking = pairs.merge(base[["prompt_id", "seed"]], how="left", indicator=True).query("_merge == 'left_only'")
    if len(lacking):
        raise TadaError(f"{path}: no alpha=0 reference for (prompt_id, seed) {lacking.iloc[0, :2].tolist()}")
    return manifest


def reference_rows(manifest: pd.DataFrame) -> np.ndarray:
    """For every row, the position of its alpha=0 reference row."""
    keys = list(zip(manifest["prompt_id"], manifest["seed"], strict=True))
    position = {key: i for i, (key, a) in enumerate(zip(keys, manifest["alpha"], strict=True)) if a == 0}
    return np.array([position[key] for key in keys])


def evaluate_sweep(sweep_dir: str | Path, metrics: Sequence[Metric], optional: Sequence[Metric] = ()) -> MetricReport:
    """Manifest columns plus every metric's columns, one row per clip.

    ``metrics`` must compute (their errors propagate); ``optional`` ones that fail are listed
    in the report's ``errors`` and their columns left out.
    """
    sweep_dir = Path(sweep_dir)
    manifest = load_manifest(sweep_dir).reset_index(drop=True)
    clips = [Clip.load(sweep_dir / p) for p in manifest["path"]]
    refs = reference_rows(manifest)
    parts, errors = [], {}
    for _, rows in manifest.groupby("alpha", sort=False).groups.items():
        rows = list(rows)
        batch, references = [clips[i] for i in rows], [clips[refs[i]] for i in rows]
        required = [m.compute(batch, references) for m in metrics]
        report = compute_metrics(optional, batch, references)
        errors |= report.errors
        parts.append(pd.concat([*required, report.values], axis=1).set_axis(rows))
    values = pd.concat(parts).sort_index()
    dropped = [c for m in optional if m.name in errors for c in m.columns if c in values.columns]
    return MetricReport(pd.concat([manifest, values.drop(columns=dropped)], axis=1), errors)


def _extras(
    extras: Sequence[str],
    scorer: AudioTextScorer,
    tag: str,
    texts: Mapping[str, str],
    checkpoints: Mapping[str, str],
    cache: ClipCache,
) -> tuple[list[Metric], dict[str, str]]:
    """The optional metrics requested, and errors of those that cannot even be built."""
    metrics: list[Metric] = []
    errors: dict[str, str] = {}
    for extra in extras:
        if extra == "muqt":
            from tada.scoring.mulan import DEFAULT_CHECKPOINT, MuqScorer

            path = checkpoints.get("muqt", DEFAULT_CHECKPOINT)
            try:
                muq = MuqScorer.from_pretrained(path)
            except TadaError as err:
                errors["muqt"] = str(err)
                continue
            text = texts.get("muqt") or next(iter(texts.values()))
            metrics.append(AlignmentMetric(muq, text, "muqt", f"muqt/{checkpoint_tag(path)}", cache))
        elif extra == "fad":
            vggish = checkpoints.get("vggish")
            backend = VGGishEmbedding(vggish) if vggish else ScorerEmbedding(scorer, tag)
            metrics.append(FadMetric(backend, cache))
        elif extra == "aesthetics":
            metrics.append(AestheticsMetric(checkpoints.get("aesthetics"), cache))
        elif extra == "mir":
            metrics.append(MirMetric(cache=cache))
        else:
            raise TadaError(f"unknown extra metric '{extra}'; choose from {list(EXTRAS)}")
    return metrics, errors


def protocol_metrics(
    scorer_kind: str,
    sweep_dirs: Sequence[str | Path],
    results_dir: str | Path,
    texts: Mapping[str, str],
    contrast: Sequence[str] = (),
    window_seconds: float = 10.0,
    cache_dir: str | Path | None = None,
    extras: Sequence[str] = (),
    checkpoints: Mapping[str, str] | None = None,
) -> list[MetricReport]:
    """Alignment to the concept's text (with the scorer of ``scorer_kind``, an adapter's ``scorer``) and LPAPS of every clip
    of each sweep in ``sweep_dirs`` (one report per sweep; the scorer and metrics are built once), plus the
    ``extras`` (``muqt``, ``fad``, ``aesthetics``, ``mir``) that can compute.

    ``texts`` maps alignment metrics (``mini``, ``clap``, ``muqt``) to the concept's text (the
    architecture profile's). With ``contrast`` texts the alignment column is the scorer's log-odds of
    the concept's text against them, and the cosine goes to ``<name>_cos``. ``checkpoints`` maps
    ``clap``, ``muqt``, ``vggish``, ``aesthetics`` to local paths / hub ids.
    """
    checkpoints = dict(checkpoints or {})
    cache = ClipCache(cache_dir)
    scorer = load_scorer(scorer_kind, results_dir, checkpoints.get("clap"))
    tag, name = scorer_tag(scorer_kind, results_dir, checkpoints.get("clap")), scorer_name(scorer_kind)
    if name not in texts:
        raise TadaError(f"no alignment text for the '{name}' scorer; got texts for {sorted(texts)}")
    required: list[Metric] = [LpapsMetric(scorer, window_seconds, tag=tag, cache=cache)]
    if contrast:
        required += [
            AlignmentMetric(scorer, texts[name], name, tag, cache, contrast=contrast),
            AlignmentMetric(scorer, texts[name], f"{name}_cos", tag, cache),
        ]
    else:
        required.append(AlignmentMetric(scorer, texts[name], name, tag, cache))
    optional, errors = _extras(extras, scorer, tag, texts, checkpoints, cache)
    reports = [evaluate_sweep(sweep_dir, required, optional) for sweep_dir in sweep_dirs]
    for report in reports:
        report.errors |= errors
    return reports
