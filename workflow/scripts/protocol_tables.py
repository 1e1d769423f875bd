"""Snakemake script of rule protocol_tables: an arch's protocol table and figures."""

import sys
from pathlib import Path

from tada.protocol.report import arch_report

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
stem = Path(sm.output.csv).with_suffix("")
title = f"Steering protocol — {sm.wildcards.arch}"
print(arch_report(list(sm.input), stem, sm.output.alignment, sm.output.gain, title).to_string())
