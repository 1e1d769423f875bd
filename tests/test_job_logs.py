"""A failed workflow job's log holds the traceback that says why it failed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: a script sends its traceback to its log by tada.logging.setup_job, or by redirecting stderr to it
TO_LOG = re.compile(r"setup_job\((sm|snakemake)\.log\[0\]|sys\.stderr = open\((sm|snakemake)\.log\[0\]")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_logs_to_its_log(script: Path) -> None:
    assert TO_LOG.search(script.read_text()), f"{script.name}: neither setup_job(log) nor stderr to the log"


def test_setup_job_logs_uncaught_exception(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "job.log"
    code = f"from tada.logging import setup_job\nsetup_job({str(log)!r})\nraise ValueError('no such concept: tuba')\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ValueError: no such concept: tuba" in text
    assert "ValueError: no such concept: tuba" in out.stderr  # still on the terminal


#: real workflow scripts run by Snakemake on broken inputs: one with setup_job, one redirecting stderr
FAILING = f"""
rule all:
    input: "family.yaml", "mini/tables.csv"

rule family:
    input: "broken.csv"
    output: "family.yaml"
    params: tau=0.1
    wildcard_constraints: family="x"
    log: "logs/family.log"
    script: "{ROOT}/workflow/scripts/localization_family.py"

rule tables:
    input: "broken.csv"
    output:
        csv="{{arch}}/tables.csv", md="{{arch}}/tables.md", tex="{{arch}}/tables.tex",
        alignment="{{arch}}/alignment.png", gain="{{arch}}/gain.png"
    log: "logs/tables_{{arch}}.log"
    script: "{ROOT}/workflow/scripts/protocol_tables.py"
"""


@pytest.mark.slow
def test_failed_workflow_jobs_hold_their_traceback(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(FAILING)
    (tmp_path / "broken.csv").write_text("not,a\nscore,table\n")
    out = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--keep-going"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode != 0
    for name in ("family", "tables_mini"):
        text = (tmp_path / "logs" / f"{name}.log").read_text()
        assert "Traceback (most recent call last)" in text, f"{name}.log:\n{text}"
        assert re.search(r"^[\w.]*(Error|Exception): ", text, re.M), f"{name}.log names no error:\n{text}"
