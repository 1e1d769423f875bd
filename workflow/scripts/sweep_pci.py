"""Run one PCI steering sweep (rule ``sweep``); progress goes to stderr, the summary to the log."""

from pathlib import Path

from tada.logging import setup_job
from tada.steering import sweep_concept

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.params.threads)
manifest = sweep_concept(
    sm.wildcards.arch,
    sm.params.checkpoint,
    sm.wildcards.concept,
    sm.wildcards.method,
    Path(sm.output.manifest).parent,
    n_prompts=sm.params.prompts,
    n_seeds=sm.params.seeds,
    alphas=list(sm.params.alphas),
    load_options=sm.params.load_options,
)
log.info("wrote %d clips and %s", len(manifest), sm.output.manifest)
