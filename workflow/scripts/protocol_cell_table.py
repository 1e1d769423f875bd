"""Snakemake script of rule protocol_cell_table: the protocol scores of one sweep cell."""

import sys
from pathlib import Path

from tada.protocol.report import cell_report

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
stem = Path(sm.output.csv).with_suffix("")
print(cell_report(list(sm.input), sm.wildcards.concept, sm.wildcards.method, stem).to_string())
