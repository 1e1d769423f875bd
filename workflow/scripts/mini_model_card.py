"""Measure the mini model and write its card (rule ``model_card``)."""

import json
from pathlib import Path

from tada.logging import setup_job
from tada.models import load_model
from tada.scoring.mini import MiniScorer
from tada.training.model_card import evaluate, write_model_card

log = setup_job(snakemake.log[0], snakemake.threads)
model_dir = Path(snakemake.input.model).parent
adapter = load_model("mini", str(model_dir))
scorer = MiniScorer.from_pretrained(Path(snakemake.input.scorer).parent)
stats = json.loads(Path(snakemake.input.model_stats).read_text())
stats |= json.loads(Path(snakemake.input.scorer_stats).read_text())
cfg = adapter.model.config
stats |= {
    "num_layers": cfg.num_layers,
    "width": cfg.width,
    "semantic_sites": [f"tf{b}" for b in cfg.semantic_blocks],
    **evaluate(adapter, scorer, snakemake.params.per_value, snakemake.params.seed),
}
write_model_card(stats, snakemake.output.md, snakemake.output.json)
log.info("model card: %s", stats["accuracy"])
