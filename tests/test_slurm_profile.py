"""The Snakemake profiles: option names, GPU routing, a dry run, and (with a cluster) a real SLURM run.

The dry run needs no controller; with the Debian SLURM client installed but no controller
running, loading the executor plugin spends ~10 s in ``scontrol`` time-outs. The real run
(``slow``) needs a responding ``sinfo``: start a one-node cluster with ``scripts/slurm_local.sh``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PROFILES = ("local", "slurm")
#: two rules: `train_mini` is routed to the GPU partition by the profile, `summarize` is not
TINY = """
rule all:
    input: "b.txt"

rule train_mini:
    output: "a.txt"
    log: "logs/a.log"
    shell: "echo $SLURM_JOB_PARTITION ${{CUDA_VISIBLE_DEVICES:-none}} > {output} 2> {log}"

rule summarize:
    input: "a.txt"
    output: "b.txt"
    log: "logs/b.log"
    shell: "(cat {input}; echo $SLURM_JOB_PARTITION) > {output} 2> {log}"
"""


def _profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())


def _snakemake(*args: str, cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def help_text() -> str:
    return subprocess.run([SNAKEMAKE, "--help"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "Snakefile").write_text(TINY)
    return tmp_path


@pytest.mark.parametrize("name", PROFILES)
def test_profile_keys_are_snakemake_options(name: str, help_text: str) -> None:
    unknown = [key for key in _profile(name) if not re.search(rf"--{re.escape(key)}\b", help_text)]
    assert not unknown, f"profiles/{name}: not Snakemake options: {unknown}"


def _workflow_rules() -> set[str]:
    """Rule names of the workflow: static ones, and `localization_<arch>` (one rule per architecture)."""
    from tada.models import ARCHITECTURES

    smk = "".join(f.read_text() for f in (ROOT / "workflow" / "rules").glob("*.smk"))
    return set(re.findall(r"^\s*rule (\w+):", smk, re.M)) | {f"localization_{arch}" for arch in ARCHITECTURES}


def test_gpu_resources_name_workflow_rules() -> None:
    profile = _profile("slurm")
    resources = profile["set-resources"]
    assert profile["default-resources"]["slurm_partition"] == "cpu"
    assert "cpus_per_task" not in profile["default-resources"]  # CPUs come from each rule's `threads:`
    assert set(resources) <= _workflow_rules(), set(resources) - _workflow_rules()
    gpu = {rule for rule, res in resources.items() if res.get("slurm_partition") == "gpu"}
    assert {"sweep", "steering_artifact", "eval_set", "train_mini", "localization_stable_audio", "localization_ace_step_v1"} <= gpu
    assert "localization_mini" not in gpu  # mini localizes on CPU
    for rule in gpu:
        assert resources[rule]["gres"] == "gpu:1", rule


def test_slurm_profile_needs_no_accounting_and_retries() -> None:
    profile = _profile("slurm")
    assert profile["slurm-status-command"] == "squeue" and profile["slurm-no-account"] is True
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True


def test_local_dry_run(tiny: Path) -> None:
    out = _snakemake("-n", "--profile", str(ROOT / "profiles" / "local"), cwd=tiny, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_slurm_dry_run_routes_gpu_rules(tiny: Path) -> None:
    out = _snakemake("-n", "--profile", str(ROOT / "profiles" / "slurm"), cwd=tiny, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    jobs = {m.group(1): m.group(2) for m in re.finditer(r"rule (\w+):\n(?:    .*\n)*?    resources: (.*)", out.stdout)}
    assert "slurm_partition=gpu" in jobs["train_mini"] and "gres=gpu:1" in jobs["train_mini"]
    assert "slurm_partition=cpu" in jobs["summarize"] and "gres" not in jobs["summarize"]


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.slow
def test_slurm_profile_runs_jobs_through_sbatch(tiny: Path) -> None:
    if not _cluster_up():
        pytest.skip("no SLURM controller answers (start one: scripts/slurm_local.sh)")
    out = _snakemake("--profile", str(ROOT / "profiles" / "slurm"), cwd=tiny, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "has been submitted with SLURM jobid" in out.stderr
    gpu_line, cpu_line = (tiny / "b.txt").read_text().split("\n")[:2]
    assert gpu_line.split()[0] == "gpu" and gpu_line.split()[1] != "none"  # GRES allocated a device
    assert cpu_line == "cpu"
