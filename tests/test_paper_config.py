"""The paper configuration (config/paper.yaml): its DAG plans from the reference data, per-arch settings,
the paper's alpha grids and the reference's ablated arm."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tada.models.ace_step import AceStepV1Adapter
from tada.sites import EXCEPT, SiteRegistry
from tada.steering.grids import reference_grids

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TADA_SHARED", ROOT.parent / "shared"))
STEERING_DATA = SHARED / "reference" / "tada-steering"
needs_reference = pytest.mark.skipif(
    not (STEERING_DATA / "alpha_grids.csv").is_file(), reason=f"the reference steering data is not at {STEERING_DATA}"
)
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(ROOT)]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def paper_dry_run(tmp_path: Path, *config: str, configfile: str = "paper.yaml") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "-n", "--quiet", "rules", "--configfile", str(ROOT / "config" / configfile), "--config",
         f"results={tmp_path / 'results'}", f"steering={{reference_prompts: {STEERING_DATA}}}", *config],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip


def job_counts(stdout: str) -> dict[str, int]:
    stats = stdout.split("Job stats:")[1].split("\n\n")[0]
    return {job: int(n) for job, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.MULTILINE)}


@needs_reference
@pytest.mark.slow
def test_paper_dag_loads_each_model_once_per_feature_and_sweeps_every_published_grid(tmp_path: Path) -> None:
    run = paper_dry_run(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = job_counts(run.stdout)
    for arch in ("ace_step_v1", "audioldm2", "stable_audio"):
        assert jobs[f"localization_{arch}"] == 21  # one job per feature runs every preset of the arch
    grids = reference_grids(STEERING_DATA)
    assert jobs["sweep"] == len(grids) == 165  # every (arch, method, concept, arm) the paper has a grid for
    assert jobs["protocol_metrics"] == jobs["sweep"]
    assert "train_mini" not in jobs  # no mini model in the paper


@needs_reference
@pytest.mark.slow
def test_localized_arms_of_an_arch_without_a_localized_preset_need_one(tmp_path: Path) -> None:
    """ACE-Step 1.5 ships no localized preset (the reference did not localize it): its ``loc`` arm stops
    planning with the way out, and runs on the preset its own localization finds once configured."""
    steer = "archs: [ace_step_15], concepts: [violin], methods: [caa], arms: [all, loc]"
    run = paper_dry_run(tmp_path, f"steering={{{steer}, reference_prompts: {STEERING_DATA}}}", configfile="config.yaml")
    assert run.returncode != 0 and "set steering.localized.ace_step_15" in run.stdout + run.stderr
    found = tmp_path / "results" / "localization" / "ace_step_15" / "localized.yaml"
    run = paper_dry_run(
        tmp_path, f"steering={{{steer}, reference_prompts: {STEERING_DATA}, localized: {{ace_step_15: {found}}}}}",
        "localization={archs: [ace_step_15], features: [violin]}", configfile="config.yaml",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = job_counts(run.stdout)
    assert jobs["localization_ace_step_15"] == 1 and jobs["localization_impact"] == 1 and jobs["sweep"] == 2


@needs_reference
def test_reference_grids_map_methods_and_architectures() -> None:
    grids = reference_grids(STEERING_DATA)
    assert set(grids.arm) == {"all", "loc", "ablated"}
    assert set(grids.arch) == {"ace_step_v1", "audioldm2", "stable_audio"}
    ace = grids[grids.arch == "ace_step_v1"]
    assert set(ace.method) == {"pci", "textemb", "tokemb", "freesliders", "sliders", "caa", "austeer", "sae"}
    assert set(grids[grids.arch != "ace_step_v1"].method) == {"caa"}
    assert set(ace[ace.method == "sae"].arm) == {"loc"} and set(ace[ace.arm == "ablated"].method) == {"caa"}
    piano = grids.query("arch == 'ace_step_v1' and method == 'pci' and concept == 'piano' and arm == 'all'")
    assert piano.alphas.iloc[0] == [float(a) for a in range(-30, 31, 2)]  # in the reference's order
    assert all(0.0 in alphas for alphas in grids.alphas)


def test_except_preset_is_the_reference_ablated_arm() -> None:
    registry = SiteRegistry("ace_step_v1", AceStepV1Adapter.structure_sites())  # full size, no package needed
    ablated = registry.resolve(f"{EXCEPT}tf6tf7")
    assert [s.name for s in ablated] == [s.name for s in registry.resolve("no_tf6tf7")]
    assert len(ablated) == 22 and registry.resolve(f"{EXCEPT}none") == registry.layers


def test_mini_settings_do_not_leak_into_the_paper() -> None:
    """paper.yaml is merged over config.yaml key by key (as ``--configfile`` does): mini's non-reference
    method settings must be overridden by the reference's."""
    from snakemake.utils import update_config

    merged = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    options = merged["steering"]["options"]
    assert options["caa"]["weighting"] == "unit" and options["sliders"]["contrast"] == "empty"
    assert options["sliders"]["iterations"] == 500 and options["austeer"]["top_k"] == "reference"
    assert options["austeer"]["weighting"] == "sign" and options["sae"]["weighting"] == "unit"
