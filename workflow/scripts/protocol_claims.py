"""Snakemake script of rule protocol_claims: the paper's steering claims on an arch's protocol table."""

import sys

import pandas as pd

from tada.protocol.claims import write_claims

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
published = pd.read_csv(sm.input.published[0]) if sm.input.published else None
verdicts = write_claims(sm.wildcards.arch, pd.read_csv(sm.input.ours), published, sm.output.csv, sm.output.md)
print(verdicts.to_string())
