"""Steering sweeps: alphas x prompts x seeds of one (concept, method, arm) cell, written for the protocol.

A sweep directory holds ``manifest.csv`` (columns of :data:`tada.manifest.MANIFEST_COLUMNS`,
``path`` relative to the directory, ``alpha = 0`` rows are the references) and the WAV files under
``wav/``. The controller is mounted once; only alpha changes between generations. The manifest is
written last, so an interrupted sweep leaves none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from tada.audio import write_wav
from tada.errors import ConfigError
from tada.manifest import MANIFEST_COLUMNS
from tada.models import load_model
from tada.models.base import GenerationConfig, ModelAdapter
from tada.steering.controller import ArtifactController, Controller
from tada.steering.methods import cell_name, compute_options, make_controller, method_class, needs_artifact
from tada.steering.pci import PCI, check_alpha
from tada.steering.profiles import profile


def check_alphas(controller: Controller, alphas: Sequence[float], steps: int) -> list[float]:
    """Sorted unique alphas, with 0 (the reference clips); PCI alphas must be whole step counts."""
    if isinstance(controller, PCI):
        alphas = [check_alpha(a, steps) for a in alphas]
    alphas = sorted({float(a) for a in alphas})
    if 0 not in alphas:
        raise ConfigError(f"a sweep needs alpha 0 (the reference clips); got alphas {alphas}")
    return alphas


def run_sweep(
    adapter: ModelAdapter,
    controller: Controller,
    prompts: Sequence[str],
    seeds: Sequence[int],
    alphas: Sequence[float],
    out_dir: str | Path,
    cell: str,
    config: GenerationConfig | None = None,
    batch_size: int = 16,
    progress: bool = True,
    lyrics: Sequence[str] | None = None,
    per_prompt_seeds: bool = False,
) -> pd.DataFrame:
    """Generate every (alpha, prompt, seed) under ``controller`` (``lyrics``: one per prompt, else the
    config's; ``per_prompt_seeds``: prompt i only with ``seeds[i]``, as an evaluation set pairs them);
    write the WAVs and the manifest.

    Under ``noise: reference`` a clip's noise is row ``prompt index`` of the reference's one draw for the
    whole prompt set (one seed per prompt), so prompt i gets the same noise as in the reference's run.
    """
    config = config or adapter.generation_config("steering")
    alphas = check_alphas(controller, alphas, config.steps)
    if lyrics is not None and len(lyrics) != len(prompts):
        raise ConfigError(f"got {len(lyrics)} lyrics for {len(prompts)} prompts")
    if per_prompt_seeds and len(seeds) != len(prompts):
        raise ConfigError(f"got {len(seeds)} seeds for {len(prompts)} prompts (one each)")
    if config.noise == "reference":
        if len(seeds) != 1 or per_prompt_seeds:
            raise ConfigError(f"noise: reference draws one clip per prompt; got {len(seeds)} seeds")
        config = config.with_(noise_rows=config.noise_rows or len(prompts))
    out_dir = Path(out_dir)
    items = list(enumerate(seeds)) if per_prompt_seeds else [(i, s) for i in range(len(prompts)) for s in seeds]
    batches = [items[b : b + batch_size] for b in range(0, len(items), batch_size)]
    rows = []
    name = controller.concept.name
    with adapter.steer(controller), tqdm(total=len(batches) * len(alphas), desc=f"{name}/{cell}", disable=not progress) as bar:
        for batch in batches:
            texts, batch_seeds = [prompts[i] for i, _ in batch], [s for _, s in batch]
            noise = [i for i, _ in batch] if config.noise == "reference" else batch_seeds  # reference: row = prompt
            batch_config = config if lyrics is None else config.with_(lyrics=tuple(lyrics[i] for i, _ in batch))
            for alpha in alphas:
                controller.set_alpha(alpha)
                audio = adapter.generate(texts, noise, batch_config)
                for (i, seed), wave in zip(batch, audio.waveforms, strict=True):
                    path = f"wav/p{i:03d}_s{seed}_a{alpha:+g}.wav"
                    write_wav(out_dir / path, wave, audio.sample_rate)
                    rows.append((name, cell, i, controller.neutral(prompts[i]), seed, alpha, path))
                bar.update()
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).sort_values(["alpha", "prompt_id", "seed"])
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest


def compute_artifact(
    arch: str,
    checkpoint: str,
    concept: str,
    method: str,
    out_dir: str | Path,
    *,
    target_layers: str | None = None,
    options: Mapping[str, Any] | None = None,
    compute_prompts: int | None = None,
    reference_prompts: str | None = None,
    load_options: Mapping[str, Any] | None = None,
) -> ArtifactController:
    """Load ``arch`` once, compute ``method``'s artifact for ``concept`` (on every site, or ``target_layers``
    for methods computed per arm) with the compute settings among ``options``; save it to ``out_dir``."""
    cls = method_class(method)
    if not issubclass(cls, ArtifactController):
        raise ConfigError(f"{method} has no compute step; it steers directly")
    prof = profile(arch, reference_prompts=reference_prompts, compute_prompts=compute_prompts)
    chosen = prof.concept(concept)
    settings = compute_options(method, dict(options or {}))
    if target_layers is not None:
        settings["target_layers"] = target_layers
    adapter = load_model(arch, checkpoint, **dict(load_options or {}))
    controller = cls.compute(adapter, chosen, **settings)
    controller.save_pretrained(out_dir)
    return controller


@dataclass(frozen=True)
class SweepCell:
    """One arm of a sweep job: where its clips go, its alphas and the artifact it loads (if any)."""

    out_dir: str | Path
    alphas: Sequence[float]
    artifact: str | Path | None = None


def sweep_cells(
    arch: str,
    checkpoint: str,
    concept: str,
    method: str,
    cells: Mapping[str, SweepCell],
    *,
    n_prompts: int,
    n_seeds: int,
    localized: str | None = None,
    reference_prompts: str | None = None,
    options: Mapping[str, Any] | None = None,
    load_options: Mapping[str, Any] | None = None,
    noise: str = "per_clip",
    eval_set: str | Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Load ``arch`` once and sweep the (concept, method) cell of each arm in ``cells`` (every name and
    artifact checked first) with the arch's steering settings, the profile's lyrics and ``noise``
    (``per_clip`` seeds or ``reference``). The clips are the profile's first ``n_prompts`` evaluation
    prompts x seeds ``0 .. n_seeds - 1``, or the (prompt, seed) rows of an ``eval_set`` file (see
    :mod:`tada.protocol.eval_set`)."""
    prof = profile(arch, localized=localized, reference_prompts=reference_prompts)
    chosen = prof.concept(concept)
    if needs_artifact(method) and any(cell.artifact is None for cell in cells.values()):
        raise ConfigError(f"{method} sweeps need the artifact computed for '{concept}'")
    controllers = {
        arm: make_controller(method, chosen, prof.target_layers(arm), cell.artifact, arm=arm, **dict(options or {}))
        for arm, cell in cells.items()
    }
    if eval_set is None:
        prompts, seeds = prof.eval_prompts(concept, n_prompts), list(range(n_seeds))
    else:
        prompts, seeds = read_eval_set(eval_set)
    lyrics = prof.lyrics(concept, len(prompts))
    if eval_set is not None and lyrics is not None:
        raise ConfigError(f"'{concept}' is sung with per-prompt lyrics on {arch}: an evaluation set file cannot pair them yet")
    adapter = load_model(arch, checkpoint, **dict(load_options or {}))
    config = adapter.generation_config("steering").with_(noise=noise)
    return {
        arm: run_sweep(
            adapter, controller, prompts, seeds, cells[arm].alphas, cells[arm].out_dir, cell_name(method, arm), config,
            lyrics=lyrics, per_prompt_seeds=eval_set is not None,
        )
        for arm, controller in controllers.items()
    }


def read_eval_set(path: str | Path) -> tuple[list[str], list[int]]:
    """The prompts of an evaluation set file and their seeds (one per prompt)."""
    if not Path(path).is_file():
        raise ConfigError(f"evaluation set {path} not found: make it with the workflow's eval_set rule or write a CSV of prompt, seed")
    table = pd.read_csv(path)
    missing = {"prompt", "seed"} - set(table.columns)
    if missing or table.empty:
        raise ConfigError(f"evaluation set {path}: needs rows with columns prompt, seed (missing {sorted(missing)})")
    return table["prompt"].astype(str).tolist(), table["seed"].astype(int).tolist()
