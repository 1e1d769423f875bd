"""Train the mini model (rule ``train_mini``)."""

import json
from pathlib import Path

from tada.logging import setup_job
from tada.training.mini import MiniTrainConfig, train_mini
from tada.world.dataset import Clips

log = setup_job(snakemake.log[0], snakemake.threads)
p = snakemake.params.mini
cfg = MiniTrainConfig(
    num_layers=p["num_layers"], width=p["width"], heads=p["heads"], semantic_blocks=tuple(p["semantic_blocks"]),
    block_dropout=p["block_dropout"],
    train_steps=p["train_steps"], batch_size=p["batch_size"], learning_rate=p["learning_rate"],
    steps=p["steps"], guidance_scale=p["guidance_scale"], seed=snakemake.params.seed,
)
model, stats = train_mini(Clips.load(snakemake.input[0]), cfg)
model.save_pretrained(Path(snakemake.output.config).parent)
stats |= {"train_steps": cfg.train_steps, "parameters": sum(t.numel() for t in model.parameters())}
Path(snakemake.output.stats).write_text(json.dumps(stats, indent=2))
log.info("trained mini model: %s", stats)
