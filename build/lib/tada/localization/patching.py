"""Activation patching, one implementation for every architecture.

Generation runs with the *corrupted* prompt from the same seeds (same initial noise) while the
sites of a preset receive the *clean* prompt's conditioning at every diffusion step. The clean
conditioning is recorded once per prompt batch (:meth:`ModelAdapter.record_conditioning`) and
replayed with :class:`~tada.interventions.ReplaceConditioning` for every preset of a sweep.

Variants: ``patch`` (whole cross-attentions), ``key`` / ``value`` (only that projection's input,
the ``tfNk`` / ``tfNv`` sites), ``ablate`` (the sites' outputs zeroed while the clean prompt is
generated). ``reverse`` generates the clean prompt and patches in the corrupted conditioning.
``none`` and ``all`` are ordinary presets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from tada.errors import ConfigError, unknown_name
from tada.interventions import Edit, ReplaceConditioning, ZeroOutput
from tada.models.base import Audio, GenerationConfig, ModelAdapter
from tada.sites import Site, SiteRegistry

VARIANTS = ("patch", "key", "value", "ablate")


@dataclass(frozen=True)
class Patching:
    """Which variant a sweep runs and in which direction."""

    variant: str = "patch"
    reverse: bool = False

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise unknown_name("patching variant", self.variant, VARIANTS)
        if self.reverse and self.variant == "ablate":
            raise ConfigError("reverse applies to patch, key and value; ablate always generates the clean prompt")

    @property
    def sign(self) -> int:
        """+1 when intervening should raise the clean concept's score (patching the clean prompt in),
        -1 when it should lower it (reverse patching, ablation)."""
        return -1 if self.reverse or self.variant == "ablate" else 1

    def prompts(self, clean: list[str], corrupted: list[str]) -> tuple[list[str], list[str]]:
        """(prompts whose conditioning is patched in, prompts generated)."""
        if self.variant == "ablate":
            return clean, clean
        return (corrupted, clean) if self.reverse else (clean, corrupted)

    def sites(self, registry: SiteRegistry, preset: str) -> list[Site]:
        """The sites ``preset`` selects, as the variant intervenes on them (``tf2`` -> ``tf2k`` for keys)."""
        sites = registry.resolve(preset)
        if self.variant == "ablate":
            return sites
        if any(s.kind != "cross" for s in sites):
            raise ConfigError(f"preset '{preset}' names self-attention sites, which receive no text to patch")
        if self.variant == "patch":
            return sites
        projection = self.variant[0]
        by_target = {(s.module, s.projection): s for s in registry.sites.values()}
        missing = [s.name for s in sites if (s.module, projection) not in by_target]
        if missing:
            raise ConfigError(f"sites {', '.join(missing)} have no {self.variant} projection site")
        return list(dict.fromkeys(by_target[(s.module, projection)] for s in sites))


def clips(pairs: pd.DataFrame, seeds_per_pair: int = 1) -> pd.DataFrame:
    """One row per (pair, seed); ``pair`` counts within each feature and ``seed = pair * seeds_per_pair + j``,
    so every preset of a feature starts from the same noise."""
    pairs = pairs.reset_index(drop=True).assign(pair=lambda d: d.groupby("original_feature").cumcount())
    rows = pairs.loc[pairs.index.repeat(seeds_per_pair)].reset_index(drop=True)
    return rows.assign(seed=rows.pair * seeds_per_pair + rows.groupby(["original_feature", "pair"]).cumcount())


@dataclass
class PatchedBatch:
    """The clips of one batch generated under one preset."""

    preset: str
    clips: pd.DataFrame
    audio: Audio


class Patcher:
    """Runs patching sweeps on one loaded model."""

    def __init__(
        self,
        adapter: ModelAdapter,
        config: GenerationConfig | None = None,
        patching: Patching = Patching(),
        batch_size: int = 16,
        progress: bool = True,
    ) -> None:
        self.adapter = adapter
        self.config = config or adapter.generation_config("patching")
        self.patching = patching
        self.batch_size = batch_size
        self.progress = progress
        self.registry = adapter.registry()

    def resolve(self, presets: Sequence[str]) -> dict[str, list[Site]]:
        """Sites of every preset; an unknown name raises before anything is generated."""
        return {p: self.patching.sites(self.registry, p) for p in presets}

    def edits(self, sites: list[Site], recorded: dict[str, list]) -> dict[Site, Edit]:
        if self.patching.variant == "ablate":
            return {s: ZeroOutput() for s in sites}
        return {s: ReplaceConditioning(recorded[s.name]) for s in sites}

    def sweep(self, clips: pd.DataFrame, presets: Sequence[str]) -> Iterator[PatchedBatch]:
        """Generate every clip under every preset, batch by batch (all presets of a batch in a row)."""
        resolved = self.resolve(presets)
        needed = list({s.name: s for sites in resolved.values() for s in sites}.values())
        starts = range(0, len(clips), self.batch_size)
        bar = tqdm(total=len(starts) * len(presets), desc="patching", unit="gen", disable=not self.progress)
        for start in starts:
            batch = clips.iloc[start : start + self.batch_size]
            source, target = self.patching.prompts(batch.clean_prompt.tolist(), batch.corrupted_prompt.tolist())
            seeds = batch.seed.tolist()
            recorded = (
                self.adapter.record_conditioning(source, seeds, self.config, needed)
                if needed and self.patching.variant != "ablate"
                else {}
            )
            for preset in presets:
                with self.adapter.intervene(self.edits(resolved[preset], recorded)):
                    audio = self.adapter.generate(target, seeds, self.config)
                yield PatchedBatch(preset, batch, audio)
                bar.update()
        bar.close()

    def run(self, clips: pd.DataFrame, presets: Sequence[str]) -> dict[str, Audio]:
        """Every preset's clips, in the order of ``clips``."""
        parts: dict[str, list[Audio]] = {p: [] for p in presets}
        for batch in self.sweep(clips, presets):
            parts[batch.preset].append(batch.audio)
        return {
            p: Audio(np.concatenate([a.waveforms for a in audios]), audios[0].sample_rate)
            for p, audios in parts.items()
        }
