"""Snakemake script of rule localization_family_preset: one attribute family's bottleneck as a preset."""

import pandas as pd

from tada.localization.report import write_family_preset
from tada.logging import setup_job

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
sites = write_family_preset(pd.read_csv(sm.input[0]), sm.wildcards.family, sm.params.tau, sm.output[0])
log.info("family %s: %s", sm.wildcards.family, sites)
