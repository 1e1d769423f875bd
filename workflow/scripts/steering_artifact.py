"""Compute one steering artifact (rule ``steering_artifact``); errors go to the log."""

from tada.logging import setup_job
from tada.steering import compute_artifact

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
try:
    controller = compute_artifact(
        sm.wildcards.arch,
        sm.params.checkpoint,
        sm.wildcards.concept,
        sm.params.method,
        sm.output[0],
        target_layers=sm.params.sites,
        options=dict(sm.params.options),
        compute_prompts=sm.params.compute_prompts,
        reference_prompts=sm.params.reference_prompts,
        load_options=sm.params.load_options,
    )
except Exception:
    log.exception("artifact computation failed")
    raise
log.info("wrote the %s artifact of '%s' over %d sites", sm.wildcards.artifact, sm.wildcards.concept, len(controller.meta["sites"]))
