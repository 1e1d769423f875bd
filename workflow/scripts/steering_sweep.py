"""Run the sweeps of one (arch, concept, method) job, one arm or several (rules ``sweep`` and
``sweep_<arch>_<method>``); progress goes to stderr, the summary and errors to the log."""

from pathlib import Path

from tada.logging import setup_job
from tada.steering import SweepCell, sweep_cells

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
arms = list(sm.params.arms)
cells = {
    arm: SweepCell(Path(manifest).parent, list(sm.params.alphas[arm]), sm.input.get(f"artifact_{arm}"))
    for arm, manifest in zip(arms, sm.output.manifests, strict=True)
}
try:
    manifests = sweep_cells(
        sm.params.arch,
        sm.params.checkpoint,
        sm.wildcards.concept,
        sm.params.method,
        cells,
        n_prompts=sm.params.prompts,
        n_seeds=sm.params.seeds,
        localized=sm.input.get("localized"),
        reference_prompts=sm.params.reference_prompts,
        options=dict(sm.params.options),
        load_options=sm.params.load_options,
        noise=sm.params.noise,
    )
except Exception:
    log.exception("sweep failed")
    raise
for arm, manifest in manifests.items():
    log.info("%s: wrote %d clips and %s", arm, len(manifest), Path(cells[arm].out_dir) / "manifest.csv")
