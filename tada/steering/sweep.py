"""Steering sweeps: alphas x prompts x seeds of one (concept, method), written for the protocol.

A sweep directory holds ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`, ``path`` relative to the
directory, ``alpha = 0`` rows are the references) and the WAV files under ``wav/``. The manifest is
written last, so an interrupted sweep leaves none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from tada.audio import write_wav
from tada.errors import ConfigError, unknown_name
from tada.models import load_model
from tada.models.base import GenerationConfig, ModelAdapter
from tada.protocol.aggregate import MANIFEST_COLUMNS
from tada.sites import Site
from tada.steering.concepts import ConceptPrompts, mini_concept_prompts
from tada.steering.pci import METHODS, check_alpha, method_sites, pci_generate
from tada.world.attributes import VALUE_FAMILY


def sweep_alphas(steps: int, stride: int = 2) -> list[int]:
    """``-steps .. steps`` every ``stride`` steps, with 0."""
    return sorted({0, *range(-steps, steps + 1, stride)})


def run_sweep(
    adapter: ModelAdapter,
    prompts: ConceptPrompts,
    method: str,
    sites: Sequence[Site],
    seeds: Sequence[int],
    out_dir: str | Path,
    alphas: Sequence[int] | None = None,
    config: GenerationConfig | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> pd.DataFrame:
    """Generate every (alpha, prompt, seed) with PCI at ``sites``; write the WAVs and the manifest.

    The positive and negative conditioning of each batch is recorded once and reused for all alphas.
    """
    config = config or adapter.generation_config("steering")
    alphas = sorted({check_alpha(a, config.steps) for a in (sweep_alphas(config.steps) if alphas is None else alphas)})
    if 0 not in alphas:
        raise ConfigError(f"a sweep needs alpha 0 (the reference clips); got alphas {alphas}")
    out_dir = Path(out_dir)
    items = [(i, s) for i in range(len(prompts)) for s in seeds]
    batches = [items[b : b + batch_size] for b in range(0, len(items), batch_size)]
    rows = []
    with tqdm(total=len(batches) * len(alphas), desc=f"{prompts.concept}/{method}", disable=not progress) as bar:
        for batch in batches:
            ids, batch_seeds = [i for i, _ in batch], [s for _, s in batch]
            neutral = [prompts.neutral[i] for i in ids]
            targets = {
                sign: adapter.record_conditioning([texts[i] for i in ids], batch_seeds, config, sites)
                for sign, texts in ((1, prompts.positive), (-1, prompts.negative))
                if any(a * sign > 0 for a in alphas) and sites
            }
            for alpha in alphas:
                target = targets.get((alpha > 0) - (alpha < 0), {})
                audio = pci_generate(adapter, neutral, batch_seeds, config, alpha, target, sites)
                for (i, seed), wave in zip(batch, audio.waveforms, strict=True):
                    path = f"wav/p{i:03d}_s{seed}_a{alpha:+d}.wav"
                    write_wav(out_dir / path, wave, audio.sample_rate)
                    rows.append((prompts.concept, method, i, prompts.neutral[i], seed, alpha, path))
                bar.update()
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).sort_values(["alpha", "prompt_id", "seed"])
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest


def sweep_concept(
    arch: str,
    checkpoint: str,
    concept: str,
    method: str,
    out_dir: str | Path,
    *,
    n_prompts: int,
    n_seeds: int,
    alphas: Sequence[int] | None = None,
    localized: str | None = None,
    prompt_seed: int = 0,
    load_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Load ``arch`` once and run the PCI sweep of a mini-world ``concept`` (names checked first)."""
    if arch != "mini":
        raise ConfigError(f"concept prompts exist only for the mini world so far; cannot sweep '{arch}'")
    if concept not in VALUE_FAMILY:
        raise unknown_name("mini-world concept", concept, VALUE_FAMILY)
    if method not in METHODS:
        raise unknown_name("steering method", method, METHODS)
    prompts = mini_concept_prompts(concept, n_prompts, seed=prompt_seed)
    adapter = load_model(arch, checkpoint, **dict(load_options or {}))
    sites = method_sites(adapter, method, localized)
    return run_sweep(adapter, prompts, method, sites, list(range(n_seeds)), out_dir, alphas)
