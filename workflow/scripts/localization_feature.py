"""Snakemake script of rules localization_<arch>: the patched, scored cells of one feature, every preset."""

from pathlib import Path

from tada.localization.cells import run_cells
from tada.localization.patching import Patching
from tada.logging import setup_job
from tada.metrics import load_scorer
from tada.models import scorer_of

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
arch, feature = sm.params.arch, sm.wildcards.feature
cells = run_cells(
    arch,
    sm.params.checkpoint,
    sm.params.load,
    sm.input.pairs,
    feature,
    sm.params.presets,
    Path(sm.output.manifests[0]).parents[2],
    lambda: load_scorer(scorer_of(arch), sm.params.results, sm.params.clap),
    Patching(sm.params.variant, sm.params.backwards),
    sm.params.seeds_per_pair,
    noise=sm.params.noise,
    loudness=sm.params.loudness,
)
for preset, scores in cells.items():
    log.info("%s / %s / %s: %d clips, mean score %.4f", arch, feature, preset, len(scores), scores.score.mean())
