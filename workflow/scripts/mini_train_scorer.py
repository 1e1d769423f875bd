"""Train the mini scorer (rule ``train_scorer``)."""

import json
from pathlib import Path

from tada.logging import setup_job
from tada.training.scorer import ScorerTrainConfig, train_scorer
from tada.world.dataset import Clips

log = setup_job(snakemake.log[0], snakemake.threads)
p = snakemake.params.scorer
cfg = ScorerTrainConfig(
    train_steps=p["train_steps"], batch_size=p["batch_size"], learning_rate=p["learning_rate"], seed=snakemake.params.seed
)
scorer, stats = train_scorer(Clips.load(snakemake.input.train), Clips.load(snakemake.input.valid), cfg)
scorer.model.save_pretrained(Path(snakemake.output.config).parent)
Path(snakemake.output.stats).write_text(json.dumps(stats, indent=2))
log.info("trained scorer: %s", stats)
