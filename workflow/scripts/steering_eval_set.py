"""Choose one concept's evaluation clips, half on each pole at alpha 0 (rule ``eval_set``); the scored
pool is kept beside the set, errors go to the log."""

from tada.logging import setup_job
from tada.protocol.eval_set import balanced_eval_set

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
try:
    chosen, pool = balanced_eval_set(
        sm.wildcards.arch,
        sm.params.checkpoint,
        sm.wildcards.concept,
        sm.params.prompts,
        pool_prompts=sm.params.pool["prompts"],
        pool_seeds=sm.params.pool["seeds"],
        results_dir=sm.params.results,
        clap_checkpoint=sm.params.checkpoints.get("clap"),
        reference_prompts=sm.params.reference_prompts,
        load_options=sm.params.load_options,
    )
except Exception:
    log.exception("choosing the evaluation set failed")
    raise
chosen.to_csv(sm.output.eval_set, index=False)
pool.to_csv(sm.output.pool, index=False)
positive = (pool["alignment"] > 0).mean()
log.info("pool of %d clips, %.0f %% on the positive pole; chose %s", len(pool), 100 * positive, chosen["pole"].value_counts().to_dict())
