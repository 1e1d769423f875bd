"""Re-running parts of the default run: one table cell and only its cone; a sweep killed midway.

Both act on the default run's own results (the killed sweep is rebuilt to the same clips).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--profile", "profiles/local", "--cores", "1"]
#: the workflow imports this checkout's `tada`, wherever the environment's editable install points
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
CELL = "mini/violin/pci_loc"


def one_cell(*extra: str) -> list[str]:
    """The README's one-cell command: force the cell's sweep, rebuild what depends on it up to the table."""
    return [*SNAKEMAKE, *extra, "--forcerun", f"results/sweeps/{CELL}/manifest.csv", "--",
            "results/protocol/mini/tables.md"]  # fmt: skip


def job_counts(stdout: str) -> dict[str, int]:
    stats = stdout.split("Job stats:")[1].split("\n\n")[0]
    return {job: int(n) for job, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.MULTILINE)}


def written_since(folder: Path, start: float) -> set[str]:
    """Names of the WAVs in ``folder`` written at or after ``start`` (files removed meanwhile are skipped)."""
    names = set()
    for path in folder.glob("*.wav"):
        try:
            if path.stat().st_mtime >= start:
                names.add(path.name)
        except FileNotFoundError:
            pass
    return names


def test_one_cell_command_runs_only_that_cell(run_result) -> None:
    run_result(f"sweeps/{CELL}/manifest.csv")
    run = subprocess.run([*one_cell("-n")], cwd=ROOT, capture_output=True, text=True, timeout=300, env=ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    assert job_counts(run.stdout) == {  # mini sweeps and scores a (concept, method)'s arms in one job each
        "sweep_mini_pci": 1, "protocol_metrics_mini_pci": 1, "protocol_tables": 1, "total": 3,
    }, run.stdout[-3000:]  # fmt: skip
    assert f"sweeps/{CELL}/manifest.csv" in run.stdout


def test_sweep_killed_midway_is_redone_from_scratch(run_result) -> None:
    manifest = run_result(f"sweeps/{CELL}/manifest.csv")
    # this test re-runs the default target at its end: with results older than the checkout's code or
    # config, that would retrain under a timeout (and a killed job leaves its outputs incomplete)
    stale = subprocess.run([*SNAKEMAKE, "-n"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=ENV)
    assert "Nothing to be done" in stale.stdout, (
        "the default run's results are not up to date with this checkout: run `make run` first\n" + stale.stdout[-2000:]
    )
    before = pd.read_csv(manifest)
    wav = manifest.parent / "wav"
    target = str(manifest.relative_to(ROOT))
    started = time.time()
    job = subprocess.Popen(  # the cell's sweep alone, killed (as by a pre-emption) once some clips exist
        [*SNAKEMAKE, "--forcerun", target, "--", target], cwd=ROOT, env=ENV, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:  # Snakemake removes the old outputs one by one: wait for clips this run wrote, not for leftovers
        while manifest.exists() or len(written_since(wav, started)) < 8:
            assert job.poll() is None, "the sweep ended before it could be interrupted"
            assert time.time() - started < 240, "no clips appeared"
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        # a killed Snakemake leaves its lock: `--unlock` (as after a lost machine) before the re-run
        subprocess.run([*SNAKEMAKE, "--unlock"], cwd=ROOT, capture_output=True, timeout=300, env=ENV, check=True)
    try:
        assert not manifest.exists()  # half a sweep: clips but no manifest
        partial = {p.name for p in wav.glob("*.wav")}
        assert partial == written_since(wav, started)  # the old clips went before the new ones came
        assert 0 < len(partial) < len(before)

        plan = subprocess.run([*SNAKEMAKE, "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=300, env=ENV)
        assert plan.returncode == 0, plan.stderr[-3000:]
        assert job_counts(plan.stdout) == {"sweep_mini_pci": 1, "total": 1}  # the killed job's outputs are not trusted
        killed = time.time()
        rerun = subprocess.run([*SNAKEMAKE, target], cwd=ROOT, capture_output=True, text=True, timeout=600, env=ENV)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        after = pd.read_csv(manifest)
        pd.testing.assert_frame_equal(after, before)
        assert all(p.stat().st_mtime >= killed for p in wav.glob("*.wav"))  # every clip written again, none kept
        tables = (ROOT / "results/protocol/mini/tables.csv").read_text()
        # the whole default target: the table and what reads it (claims, report pages) stay up to date for later checks
        cone = subprocess.run([*SNAKEMAKE], cwd=ROOT, capture_output=True, text=True, timeout=600, env=ENV)
        assert cone.returncode == 0, cone.stderr[-3000:]
        assert (ROOT / "results/protocol/mini/tables.csv").read_text() == tables  # the same clips, the same table
    finally:  # whatever failed above, leave the default run's results whole for the other checks
        if not manifest.exists():
            subprocess.run([*SNAKEMAKE, target], cwd=ROOT, capture_output=True, timeout=600, env=ENV)
