"""Snakemake script of rule report_clips: a page of playable clips of one (arch, concept)'s sweeps."""

from pathlib import Path

from tada.logging import setup_job
from tada.report.clips import clips_page

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
sweeps = {Path(m).parent.name: Path(m).parent for m in sm.input.manifests}
title = f"Steering clips — {sm.wildcards.arch}, {sm.wildcards.concept}"
log.info("%d clips of %d sweeps -> %s", clips_page(sweeps, title, sm.output[0], sm.params.per_sweep), len(sweeps), sm.output[0])
