"""Snakemake script of rule protocol_metrics: per-clip alignment and LPAPS (+ extras) of a sweep, per-alpha means."""

import sys
from pathlib import Path

import torch

from tada.metrics.sweep import protocol_metrics
from tada.models import scorer_of
from tada.protocol.aggregate import per_alpha

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
torch.set_num_threads(sm.threads)
report = protocol_metrics(
    scorer_kind=scorer_of(sm.wildcards.arch),
    sweep_dir=Path(sm.input.manifest).parent,
    results_dir=sm.params.results,
    texts=dict(sm.params.alignment["texts"]),
    contrast=list(sm.params.alignment["contrast"]),
    window_seconds=float(sm.params.window_seconds),
    cache_dir=sm.params.cache,
    extras=list(sm.params.extras),
    checkpoints=dict(sm.params.checkpoints),
)
report.values.to_csv(sm.output.metrics, index=False)
per_alpha(report.values).to_csv(sm.output.per_alpha, index=False)
for name, error in report.errors.items():
    print(f"metric '{name}' not computed: {error}")
print(f"wrote {len(report.values)} clips to {sm.output.metrics} and their means to {sm.output.per_alpha}")
