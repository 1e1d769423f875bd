"""Snakemake script of rules protocol_metrics and protocol_metrics_<arch>_<method>: per-clip alignment and
LPAPS (+ extras) of each sweep cell of the job, and their per-alpha means."""

import sys
from pathlib import Path

import torch

from tada.metrics.sweep import protocol_metrics
from tada.models import scorer_of
from tada.protocol.aggregate import per_alpha

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
torch.set_num_threads(sm.threads)
reports = protocol_metrics(
    scorer_kind=scorer_of(sm.params.arch),
    sweep_dirs=[Path(m).parent for m in sm.input.manifests],
    results_dir=sm.params.results,
    texts=dict(sm.params.alignment["texts"]),
    contrast=list(sm.params.alignment["contrast"]),
    window_seconds=float(sm.params.window_seconds),
    cache_dir=sm.params.cache,
    extras=list(sm.params.extras),
    checkpoints=dict(sm.params.checkpoints),
)
for report, metrics, curve in zip(reports, sm.output.metrics, sm.output.per_alpha, strict=True):
    report.values.to_csv(metrics, index=False)
    per_alpha(report.values).to_csv(curve, index=False)
    for name, error in report.errors.items():
        print(f"metric '{name}' not computed: {error}")
    print(f"wrote {len(report.values)} clips to {metrics} and their means to {curve}")
