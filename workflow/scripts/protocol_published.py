"""Snakemake script of rule published_tables: rebuild the paper's tables for one axis."""

import sys
from pathlib import Path

from tada.protocol.published import write_published

sm = snakemake  # noqa: F821
sys.stdout = sys.stderr = open(sm.log[0], "w")
for path in write_published(Path(sm.input.steering).parent, [sm.wildcards.axis], Path(sm.output.csv).parent):
    print("wrote", path)
