"""Snakemake script of rule protocol_per_alpha: per-clip metrics -> per-alpha means."""

import sys

import pandas as pd

from tada.protocol.aggregate import per_alpha

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
per_alpha(pd.read_csv(sm.input[0])).to_csv(sm.output[0], index=False)
