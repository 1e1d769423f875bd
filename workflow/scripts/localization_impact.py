"""Snakemake script of rule localization_impact: impact table, figures, localized preset, summary."""

from tada.localization.patching import Patching
from tada.localization.report import read_scores, write_report
from tada.localization.studies import study
from tada.logging import setup_job

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
arch = sm.wildcards.arch
expected = study(arch)
truth, label = expected.expected_sites(sm.input.truth[0] if sm.input.truth else None), expected.expected_label
settings = sm.params.settings
impact = write_report(
    arch, read_scores(sm.input.scores), sm.params.sites, sm.params.tau, dict(sm.output.items()), settings,
    truth, label, Patching(settings["variant"], settings["reverse"]).sign,
)
log.info("impact of %d features x %d sites: %s", impact.feature.nunique(), impact.site.nunique(), sm.output.impact)
