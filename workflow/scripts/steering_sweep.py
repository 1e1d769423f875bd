"""Run the sweeps of one (arch, concept, method) job, one arm or several (rules ``sweep`` and
``sweep_<arch>_<method>``, which first computes the method's artifacts); progress goes to stderr, the
summary and errors to the log."""

from pathlib import Path

from tada.logging import setup_job
from tada.steering import SweepCell, compute_artifact, sweep_cells

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0], sm.threads)
arms = list(sm.params.arms)
computed = dict(zip(sorted(set(sm.params.get("artifacts", {}).values())), sm.output.get("artifacts", []), strict=True))
artifacts = {arm: computed[name] for arm, name in sm.params.get("artifacts", {}).items()}
cells = {
    arm: SweepCell(Path(manifest).parent, list(sm.params.alphas[arm]), artifacts.get(arm, sm.input.get(f"artifact_{arm}")))
    for arm, manifest in zip(arms, sm.output.manifests, strict=True)
}
try:
    for name, out_dir in computed.items():
        controller = compute_artifact(
            sm.params.arch,
            sm.params.checkpoint,
            sm.wildcards.concept,
            sm.params.method,
            out_dir,
            target_layers=sm.params.artifact_sites[name],
            options=dict(sm.params.options),
            compute_prompts=sm.params.compute_prompts,
            reference_prompts=sm.params.reference_prompts,
            load_options=sm.params.load_options,
        )
        log.info("wrote the %s artifact over %d sites", name, len(controller.meta["sites"]))
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
        eval_set=sm.input.get("eval_set"),  # archs in steering.balance.archs
    )
except Exception:
    log.exception("sweep failed")
    raise
for arm, manifest in manifests.items():
    log.info("%s: wrote %d clips and %s", arm, len(manifest), Path(cells[arm].out_dir) / "manifest.csv")
