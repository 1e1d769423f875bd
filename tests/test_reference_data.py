"""The reference data: pinned, SHA-256-checked, fetched over HTTP or read from a local copy; and a
default run that needs none of it (the published targets leave `rule all` with one line saying how)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tada.protocol import reference_data as rd
from tada.protocol.published import DEFAULT_ROOT, published_table

ROOT = Path(__file__).resolve().parents[1]
needs_local_copy = pytest.mark.skipif(
    not rd.has_copy(DEFAULT_ROOT), reason=f"needs a local copy of the reference data at {DEFAULT_ROOT}"
)


@pytest.fixture
def served(tmp_path: Path):
    """A folder served over HTTP on 127.0.0.1: yields (folder, base URL)."""
    folder = tmp_path / "served" / "results"
    folder.mkdir(parents=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the package


def test_pins_name_the_upstream_commit_and_every_file() -> None:
    assert rd.PUBLISHED_URL.endswith(f"/luk-st/steer-audio/{rd.UPSTREAM_COMMIT}/results")
    assert set(rd.PUBLISHED_FILES) == {"steering_metrics.csv", "quality_metrics.csv", "localization_impact.csv"}
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["reference"]["published_url"] == rd.PUBLISHED_URL  # the default config fetches the pinned files


def test_fetch_keeps_a_file_with_the_expected_hash(served, tmp_path: Path) -> None:
    folder, url = served
    (folder / "a.csv").write_text("x,y\n1,2\n")
    expected = hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    dest = tmp_path / "cache" / "a.csv"
    assert rd.fetch_verified(f"{url}/a.csv", dest, expected) == dest
    assert dest.read_text() == "x,y\n1,2\n" and rd.sha256(dest) == expected
    assert [p.name for p in dest.parent.iterdir()] == ["a.csv"]  # no temporary file left


def test_fetch_rejects_a_corrupted_file_and_leaves_nothing(served, tmp_path: Path) -> None:
    folder, url = served
    (folder / "a.csv").write_text("x,y\n1,3\n")  # one digit off
    dest = tmp_path / "cache" / "a.csv"
    expected = hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    message = rf"rejected {re.escape(url)}/a.csv: SHA-256 \w+, expected {expected}"
    with pytest.raises(rd.ReferenceDataError, match=message):
        rd.fetch_verified(f"{url}/a.csv", dest, expected)
    assert list(dest.parent.iterdir()) == []


def test_fetch_offline_names_the_url_and_the_config_key(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/results/steering_metrics.csv"
    with pytest.raises(rd.ReferenceDataError) as err:
        rd.fetch_verified(url, tmp_path / "steering_metrics.csv", "0" * 64, timeout=5)
    assert url in str(err.value) and rd.LOCAL_KEY in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_reads_file_urls(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"1\n")
    expected = hashlib.sha256(b"1\n").hexdigest()
    dest = rd.fetch_verified((tmp_path / "a.csv").as_uri(), tmp_path / "out" / "a.csv", expected)
    assert dest.read_bytes() == b"1\n"


def test_a_modified_local_copy_is_rejected_naming_the_file(tmp_path: Path) -> None:
    for name in rd.PUBLISHED_FILES:
        (tmp_path / name).write_text("a,b\n")
    assert rd.has_copy(tmp_path) and not rd.has_copy(tmp_path / "missing")
    with pytest.raises(rd.ReferenceDataError, match="steering_metrics.csv' is not the pinned"):
        rd.verify_copy(tmp_path)
    hashes = {name: rd.sha256(tmp_path / name) for name in rd.PUBLISHED_FILES}
    rd.verify_copy(tmp_path, hashes)  # a copy with the expected hashes passes


@needs_local_copy
def test_the_local_copy_is_the_pinned_upstream() -> None:
    rd.verify_copy(DEFAULT_ROOT)


# ---------------------------------------------------------------- the workflow

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
#: the workflow imports this checkout's `tada`, wherever the environment's editable install points
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _workflow(tmp_path: Path, **reference) -> Path:
    """A Snakefile with the published rules, results and reference settings under tmp_path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "override.yaml").write_text(yaml.safe_dump({"results": "results", "reference": reference}))
    rules = ROOT / "workflow" / "rules"
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{ROOT}/config/config.yaml"\nconfigfile: "override.yaml"\n'
        + "".join(f'include: "{rules / name}"\n' for name in ("common.smk", "localization.smk", "protocol.smk"))
    )
    return tmp_path


def _run(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=work, capture_output=True, text=True, timeout=300, env=ENV)


def _dry_run_default_dag(tmp_path: Path, *config: str) -> subprocess.CompletedProcess:
    cmd = [*SNAKEMAKE, "-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(ROOT), "--config",
           f"results={tmp_path / 'results'}", *config]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)


def test_default_dag_without_reference_data_skips_the_published_targets_with_one_line(tmp_path: Path) -> None:
    run = _dry_run_default_dag(tmp_path, f"reference={{published: {tmp_path / 'nowhere'}}}")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    lines = [line for line in run.stderr.splitlines() if "published tables and heatmaps skipped" in line]
    assert len(lines) == 1, run.stderr[-3000:]
    assert "reference.fetch: true" in lines[0] and rd.PUBLISHED_URL in lines[0] and "reference.published" in lines[0]
    assert "published_tables" not in run.stdout and "localization_published_heatmap" not in run.stdout
    assert "rule localization_mini" in run.stdout and "rule protocol_tables" in run.stdout  # the rest is planned
    # fetching enabled: the DAG downloads the three files and builds the published targets from them
    run = _dry_run_default_dag(tmp_path, "reference={published: null, fetch: true}")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "skipped" not in run.stderr
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout.split("Job stats:")[1], flags=re.MULTILINE))
    assert jobs["fetch_published_reference"] == "3" and jobs["published_tables"] == "1"
    assert jobs["localization_published_heatmap"] == "3"


@needs_local_copy
def test_default_dag_with_the_local_copy_reads_it_in_place(tmp_path: Path) -> None:
    run = _dry_run_default_dag(tmp_path, f"reference={{published: {DEFAULT_ROOT}}}")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "skipped" not in run.stderr and "fetch_published_reference" not in run.stdout
    assert f"{DEFAULT_ROOT}/steering_metrics.csv" in run.stdout and "rule published_tables" in run.stdout


@pytest.mark.slow
def test_corrupted_download_stops_before_anything_downstream(served, tmp_path: Path) -> None:
    folder, url = served
    for name in rd.PUBLISHED_FILES:
        (folder / name).write_text("cell,concept,axis,alpha,lpaps,muqt,clap\n")  # right names, wrong content
    work = _workflow(tmp_path / "work", published=None, published_url=f"{url}/", fetch=True)
    targets = ["results/published/tables_lpaps.csv", "results/localization/published/heatmap_ace.png"]
    run = _run(work, "--cores", "1", *targets)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    rejected = re.search(rf"rejected {re.escape(url)}/(\w+\.csv): SHA-256 \w+, expected (\w+)", output)
    assert rejected, output[-3000:]
    name = rejected.group(1)  # the first download to finish; the run stops there
    assert rejected.group(2) == rd.PUBLISHED_FILES[name] and "reference.published" in output
    assert not (work / "results" / "published").exists() and not (work / "results" / "localization").exists()
    cache = work / "results" / "reference" / "tada-published"
    assert not cache.exists() or not any(cache.iterdir())  # nothing unverified is kept
    assert "rejected" in (work / "results" / "logs" / "reference" / f"{name}.log").read_text()


@pytest.mark.slow
@needs_local_copy
def test_downloaded_reference_rebuilds_the_published_tables_exactly(served, tmp_path: Path) -> None:
    folder, url = served
    for name in rd.PUBLISHED_FILES:
        shutil.copy(DEFAULT_ROOT / name, folder / name)
    work = _workflow(tmp_path / "work", published=str(tmp_path / "nowhere"), published_url=url, fetch=True)
    targets = ["results/published/tables_lpaps.csv", "results/localization/published/heatmap_ace.png"]
    run = _run(work, "--cores", "2", *targets)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    cache = work / "results" / "reference" / "tada-published"
    assert sorted(p.name for p in cache.iterdir()) == sorted(rd.PUBLISHED_FILES)
    rd.verify_copy(cache)
    table, _ = published_table(DEFAULT_ROOT, "lpaps")
    rebuilt = pd.read_csv(work / "results" / "published" / "tables_lpaps.csv")
    expected = table.reset_index(drop=True)
    pd.testing.assert_frame_equal(rebuilt, expected, check_exact=False, rtol=1e-9, check_dtype=False)
    average = rebuilt[rebuilt["concept"] == "average"].drop(columns=["concept", "cell"])
    assert average.size == 75 and average.notna().all().all()  # 15 cells x 5 averaged metrics, all rebuilt
    assert (work / "results" / "localization" / "published" / "heatmap_ace.png").stat().st_size > 0
