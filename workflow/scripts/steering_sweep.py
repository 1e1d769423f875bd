"""Run one steering sweep (rule ``sweep``); progress goes to stderr, the summary and errors to the log."""

from pathlib import Path

from tada.logging import setup_job
from tada.steering import sweep_cell

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
try:
    manifest = sweep_cell(
        sm.wildcards.arch,
        sm.params.checkpoint,
        sm.wildcards.concept,
        sm.wildcards.method,
        sm.wildcards.arm,
        Path(sm.output.manifest).parent,
        n_prompts=sm.params.prompts,
        n_seeds=sm.params.seeds,
        alphas=list(sm.params.alphas),
        artifact=sm.input.artifact if "artifact" in sm.input.keys() else None,
        localized=sm.input.localized if "localized" in sm.input.keys() else None,
        reference_prompts=sm.params.reference_prompts,
        options=dict(sm.params.options),
        load_options=sm.params.load_options,
        noise=sm.params.noise,
    )
except Exception:
    log.exception("sweep failed")
    raise
log.info("wrote %d clips and %s", len(manifest), sm.output.manifest)
