"""Snakemake script of the report rules that show a Markdown result (summary, tables) as an HTML page."""

from pathlib import Path

from tada.logging import setup_job
from tada.report.markdown import markdown_page

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
Path(sm.output[0]).write_text(markdown_page(Path(sm.input[0]).read_text(), sm.params.title))
log.info("%s -> %s", sm.input[0], sm.output[0])
