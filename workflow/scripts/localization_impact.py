"""Snakemake script of rule localization_impact: impact table, figures, localized preset, summary."""

from tada.localization.layout import layer_names, mini_truth, reference_sites
from tada.localization.patching import Patching
from tada.localization.report import read_scores, write_report
from tada.logging import setup_job

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
arch = sm.wildcards.arch
if arch == "mini":
    truth, label = mini_truth(sm.input.truth[0]), "ground truth"
else:
    truth, label = reference_sites(arch, layer_names(arch)), "reference preset"
settings = sm.params.settings
impact = write_report(
    arch, read_scores(sm.input.scores), sm.params.sites, sm.params.tau, dict(sm.output.items()), settings,
    truth, label, Patching(settings["variant"], settings["reverse"]).sign,
)
log.info("impact of %d features x %d sites: %s", impact.feature.nunique(), impact.site.nunique(), sm.output.impact)
