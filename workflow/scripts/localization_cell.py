"""Snakemake script of rule localization_cell: patched clips of one (feature, preset), scored."""

from pathlib import Path

from tada.localization.cells import run_cells
from tada.localization.patching import Patching
from tada.logging import setup_job
from tada.metrics import load_scorer
from tada.models import adapter_class

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.params.threads)
arch, feature, preset = sm.wildcards.arch, sm.wildcards.feature, sm.wildcards.preset
scores = run_cells(
    arch,
    sm.params.checkpoint,
    sm.params.load,
    sm.input.pairs,
    feature,
    [preset],
    Path(sm.output.manifest).parents[2],
    lambda: load_scorer(adapter_class(arch).scorer, sm.params.results, sm.params.clap),
    Patching(sm.params.variant, sm.params.backwards),
    sm.params.seeds_per_pair,
)[preset]
log.info("%s / %s / %s: %d clips, mean score %.4f", arch, feature, preset, len(scores), scores.score.mean())
