"""The Snakemake workflow: the default DAG plans, and a bad config stops before any job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(ROOT)]


def dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "-n", *args, "--config", f"results={tmp_path / 'results'}"],
        capture_output=True, text=True, timeout=300,
    )


def test_default_dag_plans_every_stage(tmp_path) -> None:
    run = dry_run(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for rule in ("world", "train_mini", "train_scorer", "model_card", "localization_mini", "localization_impact",
                 "sweep_mini_caa", "protocol_metrics_mini_caa", "protocol_tables"):  # published_tables: with reference data, test_reference_data.py
        assert f"rule {rule}:" in run.stdout or f"localrule {rule}:" in run.stdout, rule


@pytest.mark.parametrize("experiment", sorted(p.name for p in (ROOT / "config" / "experiments").glob("*.yaml")))
def test_every_experiment_config_plans(tmp_path, experiment) -> None:
    """The optional experiments of ``config/experiments/`` plan on top of the default config (their training first)."""
    configs = [str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "experiments" / experiment)]
    run = dry_run(tmp_path, "--configfile", *configs)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rule train_mini:" in run.stdout


def test_single_cell_builds_only_its_cone(tmp_path) -> None:
    run = dry_run(tmp_path, f"{tmp_path}/results/localization/mini/violin/tf1/scores.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "localization_mini" in run.stdout and "localization_impact" not in run.stdout
    assert "sweep" not in run.stdout and "model_card" not in run.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mini": {"semantic_layers": [1]}}, "semantic_layers"),  # unknown key
        ({"localization": {"variant": "sideways"}}, "sideways"),  # bad value
        ({"localization": {"presets": ["tf1tf2", "tf9"]}}, "'tf9'"),  # no such site at the trained depth
        ({"threads": 0}, "threads"),
        ({"steering": {"methods": ["caa", "lora_steer"]}}, "lora_steer"),  # a method that does not exist
        ({"steering": {"concepts": ["violin", "cello"]}}, "cello"),  # not a concept of the mini world
        ({"steering": {"arms": ["all", "sideways"]}}, "sideways"),
        ({"steering": {"alphas": {"pci": [-4, 4]}}}, "alphas"),  # no alpha 0: no reference clips
        ({"steering": {"alphas": {"pci": {"default": [-4, 0, 4], "cello": [-4, 0, 4]}}}}, "steering.alphas.pci.cello"),  # no such concept
        ({"world": {"prior": {"register": {"low": 0.3, "middle": 0.7}}}}, "middle"),  # not a register
        ({"world": {"prior": {"register": {"low": 0.5, "high": 0.7}}}}, "sum to 1"),
        ({"steering": {"balance": {"archs": ["mini"], "pool_prompts": 4, "pool_seeds": 2}}}, "pool_prompts"),
        ({"steering": {"noise": "reference"}}, "steering.balance"),  # one draw per prompt: no seeds to choose
        ({"steering": {"localized": {"ace_step15": "found.yaml"}}}, "ace_step15"),  # not an arch
        ({"steering": {"options": {"tokemb": {"weighting": "difference"}}}}, "['tokemb']['weighting']"),  # CAA's, AUSteer's, SAE's key
        ({"steering": {"options": {"caa": {"weighting": "sign"}}}}, "'sign' is not one of ['unit', 'difference']"),  # AUSteer's value
        ({"steering": {"options": {"caa": {"normalize": False}}}}, "'normalize' was unexpected"),  # CAA's former key
        ({"steering": {"options": {"sae": {"weighting": "sign"}}}}, "not one of ['unit', 'difference']"),  # AUSteer's value
    ],
)
def test_bad_config_is_rejected_with_its_key(tmp_path, change, message) -> None:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for key, value in change.items():
        config[key] = config[key] | value if isinstance(value, dict) else value
    if "alphas" in change.get("steering", {}):
        config["steering"]["methods"] = ["pci"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    run = dry_run(tmp_path, "--configfile", str(bad))
    assert run.returncode != 0
    assert message in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()


def test_workflow_passes_snakemake_lint() -> None:
    """The catalog's conventions: a log per rule, no hard-coded path prefixes in params, ..."""
    run = subprocess.run([*SNAKEMAKE, "--lint"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Lints for" not in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]


def test_malformed_prompt_file_stops_planning(tmp_path) -> None:
    """A real arch's prompt file is read while planning: a malformed one stops `snakemake -n`, naming it."""
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("foo,bar\n1,2\n")
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["localization"] |= {"archs": ["stable_audio"], "features": ["violin"], "prompt_files": {"stable_audio": str(prompts)}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    run = dry_run(tmp_path, "--configfile", str(tmp_path / "bad.yaml"))
    assert run.returncode != 0
    assert f"{prompts} lacks column(s)" in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()
