"""Render the synthetic world (rule ``world``)."""

from tada.logging import setup_job
from tada.world.dataset import build_world

log = setup_job(snakemake.log[0])
w = snakemake.params.world
build_world(
    snakemake.output.train, snakemake.output.valid, snakemake.output.examples,
    n_train=w["n_train"], seed=w["seed"], sample_rate=w["sample_rate"], duration=w["duration"],
    prior=w.get("prior"),
)
log.info("rendered %d training clips", w["n_train"])
