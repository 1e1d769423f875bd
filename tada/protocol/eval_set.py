"""Evaluation sets balanced between a concept's poles: which (prompt, seed) clips a sweep steers.

A steering curve can show a concept rising *and* falling only where the unsteered clips have room on
both sides. On mini, whether a register-free caption renders the high or the low register follows the
noise more than the words, so one seed can put every evaluation clip at one pole (with seed 0, all eight
of ``high``'s at the low one), and the sweep toward that pole has nothing left to move. A balanced set
generates a pool of neutral prompts x seeds *unsteered*, scores each clip's alignment (the log-odds of
the concept against its counterpart) and keeps, in pool order, half of its clips on each side of 0, each
prompt at most once. Only the unsteered model and the scorer choose; no steered clip is looked at.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from tada.errors import ConfigError
from tada.metrics.alignment import AlignmentMetric
from tada.metrics.base import Clip
from tada.metrics.registry import load_scorer, scorer_name
from tada.models import load_model, scorer_of
from tada.models.base import GenerationConfig, ModelAdapter
from tada.scoring.base import AudioTextScorer
from tada.steering.profiles import ArchProfile, profile

log = logging.getLogger(__name__)

#: columns of an evaluation set file
EVAL_SET_COLUMNS = ("prompt", "seed", "pool_prompt", "alignment", "pole")


def check_balance(prof: ArchProfile, concepts: Sequence[str], n: int, pool_prompts: int, noise: str = "per_clip") -> None:
    """Fail before any job where the balanced sets of ``concepts`` on ``prof``'s arch cannot be chosen:
    no contrast texts (no poles), a pool smaller than the set, too few distinct prompts, the reference's
    noise (one draw per prompt, no seeds to choose from) or per-prompt lyrics."""
    if noise != "per_clip":
        raise ConfigError(f"steering.balance: '{prof.arch}' draws noise '{noise}'; balanced evaluation sets choose seeds (noise per_clip)")
    if n > pool_prompts:
        raise ConfigError(f"steering.balance: a set of {n} prompts (steering.prompts) needs pool_prompts >= {n}; got {pool_prompts}")
    for concept in concepts:
        if not prof.contrast(concept):
            raise ConfigError(f"steering.balance: '{prof.arch}' scores '{concept}' without a contrast, so it has no poles to balance")
        if prof.lyrics(concept, 1) is not None:
            raise ConfigError(f"steering.balance: '{concept}' on '{prof.arch}' is sung with per-prompt lyrics, which a set cannot pair yet")
        prof.eval_prompts(concept, pool_prompts)  # raises where the profile has fewer distinct prompts


def score_pool(
    adapter: ModelAdapter,
    scorer: AudioTextScorer,
    text: str,
    contrast: Sequence[str],
    prompts: Sequence[str],
    seeds: Sequence[int],
    config: GenerationConfig | None = None,
    batch_size: int = 32,
) -> pd.DataFrame:
    """Alignment of the unsteered clip of every (prompt, seed), one row each (``pool_prompt``: the
    prompt's index), in prompt-major order."""
    if not contrast:
        raise ConfigError(f"a balanced evaluation set needs texts to contrast '{text}' with (its poles are their log-odds)")
    config = config or adapter.generation_config("steering")
    metric = AlignmentMetric(scorer, text, "alignment", contrast=contrast)
    items = [(i, s) for s in seeds for i in range(len(prompts))]
    rows = []
    for start in tqdm(range(0, len(items), batch_size), desc=f"eval pool {text}"):
        batch = items[start : start + batch_size]
        audio = adapter.generate([prompts[i] for i, _ in batch], [s for _, s in batch], config)
        clips = [Clip.from_array(wave, audio.sample_rate) for wave in audio.mono()]
        values = metric.compute(clips, clips)["alignment"]
        rows += [(prompts[i], s, i, float(v)) for (i, s), v in zip(batch, values, strict=True)]
    pool = pd.DataFrame(rows, columns=["prompt", "seed", "pool_prompt", "alignment"])
    return pool.sort_values(["pool_prompt", "seed"], kind="stable").reset_index(drop=True)


def choose_balanced(pool: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` clips of ``pool`` (rows of :func:`score_pool`), ``ceil(n/2)`` with alignment > 0 and the rest
    <= 0, taken in pool order, one per prompt: a prompt gives its first seed on a pole that still needs
    clips. Where the pool has too few on one side, the other side fills in (logged)."""
    if n < 1 or n > pool["pool_prompt"].nunique():
        raise ConfigError(f"an evaluation set of {n} clips needs at least {n} distinct pool prompts; the pool has {pool['pool_prompt'].nunique()}")
    pool = pool.assign(pole=(pool["alignment"] > 0).map({True: "positive", False: "negative"}))
    wanted = {"positive": (n + 1) // 2, "negative": n // 2}
    chosen = _take(pool, wanted)
    missing = n - len(chosen)
    if missing:
        log.warning("the pool has %d too few clips on one pole (wanted %s); the other pole fills in", missing, wanted)
        rest = pool.drop(index=chosen.index)
        rest = rest[~rest["pool_prompt"].isin(chosen["pool_prompt"])].drop_duplicates("pool_prompt")
        chosen = pd.concat([chosen, rest.head(missing)])
    return chosen.sort_values("pool_prompt", kind="stable").reset_index(drop=True)[list(EVAL_SET_COLUMNS)]


def _take(pool: pd.DataFrame, wanted: dict[str, int]) -> pd.DataFrame:
    taken, left = [], dict(wanted)
    for _, rows in pool.groupby("pool_prompt", sort=True):
        match = rows[rows["pole"].map(lambda p: left[p] > 0)]
        if len(match):
            taken.append(match.index[0])
            left[match.iloc[0]["pole"]] -= 1
    return pool.loc[taken]


def balanced_eval_set(
    arch: str,
    checkpoint: str,
    concept: str,
    n: int,
    *,
    pool_prompts: int,
    pool_seeds: int,
    results_dir: str | Path,
    clap_checkpoint: str | None = None,
    reference_prompts: str | None = None,
    load_options: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluation set of ``concept`` on ``arch`` (``n`` clips, half per pole) chosen from its profile's
    first ``pool_prompts`` evaluation prompts x seeds ``0 .. pool_seeds - 1``, scored by the arch's scorer
    (the mini scorer lives under ``results_dir``); returns the set and the scored pool."""
    if not 0 < n <= pool_prompts or pool_seeds < 1:
        raise ConfigError(f"an evaluation set of {n} clips needs at least {n} pool prompts and one seed; got {pool_prompts} x {pool_seeds}")
    prof = profile(arch, reference_prompts=reference_prompts)
    prof.check_concept(concept)
    kind = scorer_of(arch)
    text = prof.alignment(concept).get(scorer_name(kind))
    if text is None:
        raise ConfigError(f"the profile of '{arch}' has no '{scorer_name(kind)}' alignment text for '{concept}'")
    prompts = prof.eval_prompts(concept, pool_prompts)
    scorer = load_scorer(kind, results_dir, clap_checkpoint)
    adapter = load_model(arch, checkpoint, **dict(load_options or {}))
    pool = score_pool(adapter, scorer, text, prof.contrast(concept), prompts, range(pool_seeds))
    return choose_balanced(pool, n), pool
