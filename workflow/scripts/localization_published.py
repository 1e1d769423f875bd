"""Snakemake script of rule localization_published_heatmap: the published impact of one model."""

import pandas as pd

from tada.localization.plots import heatmaps, published_panels
from tada.logging import setup_job

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
model = sm.wildcards.model
heatmaps(published_panels(pd.read_csv(sm.input[0]), model), [sm.output[0]], title=f"published impact: {model}")
log.info("wrote %s", sm.output[0])
