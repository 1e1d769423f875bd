"""DVC shares the expensive artifacts: push to the default (local folder) remote, delete, pull, one
`snakemake --touch`, and Snakemake has nothing to rebuild, in the checkout that pushed and in a fresh
clone. The touch stays needed: DVC writes pulled files with new times in no particular order, and
Snakemake's recorded checksums cover only inputs up to 1 MB (the world, the model weights are larger),
so without it an output can look older than its input.

Works on a copy of the checkout with a copy of the default run's results (``make run``); this
checkout's results/ and .snakemake/ are only read.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTHING = "Nothing to be done"


def _run(*cmd: str, cwd: Path, timeout: int = 600) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={"HF_HUB_OFFLINE": "1", "PATH": f"{BIN}:/usr/bin:/bin"})
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


def _plan(repo: Path, *triggers: str) -> str:
    """What `snakemake -n` would run: its job table, or the nothing-to-do line."""
    text = _run(str(BIN / "snakemake"), "-n", *triggers, cwd=repo)
    if NOTHING in text:
        return NOTHING
    return re.search(r"Job stats:\n(.*?)\n\n", text, re.S).group(1)


def _outs() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [out for stage in stages.values() for out in stage["outs"]]


def test_default_remote_is_a_local_folder_beside_the_checkout() -> None:
    config = (ROOT / ".dvc" / "config").read_text()
    remote = re.search(r"^\s*remote = (\S+)", config, re.M).group(1)
    url = re.search(rf"\['remote \"{remote}\"'\]\n\s*url = (\S+)", config).group(1)
    assert not Path(url).is_absolute() and "://" not in url
    assert (ROOT / ".dvc" / url).resolve().parent == ROOT.parent  # resolved from .dvc/: beside the checkout


def test_stage_dependencies_exist() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    produced = set(_outs())
    for name, stage in stages.items():
        for dep in stage["deps"]:
            assert (ROOT / dep).exists() or any(dep.startswith(out) for out in produced), f"{name}: {dep}"


@pytest.mark.slow
def test_push_delete_pull_leaves_nothing_to_rebuild(tmp_path: Path, copy_checkout) -> None:
    if not (ROOT / "results" / "protocol" / "mini" / "tables.md").is_file():
        pytest.skip("needs the default run's results (make run)")
    repo = tmp_path / "tada"
    copy_checkout(repo)
    before = _plan(repo, "--rerun-triggers", "mtime")
    if before != NOTHING:
        pytest.skip(f"the default run's results are not up to date, Snakemake would run:\n{before}")
    before_all = _plan(repo)  # code and params triggers too (a checkout edited since the run may differ)
    _run("git", "init", "-q", cwd=repo)
    dvc = str(BIN / "dvc")
    _run(dvc, "commit", "--force", "--quiet", cwd=repo)
    _run(dvc, "push", "--quiet", cwd=repo)
    assert any((tmp_path / "tada-dvc-remote").rglob("*")), "dvc push wrote nothing to the default remote"

    for out in [*_outs(), ".dvc/cache"]:
        shutil.rmtree(repo / out)
    assert not (repo / "results" / "mini" / "model").exists()
    _run(dvc, "pull", "--quiet", cwd=repo)

    weights = "results/mini/model/model.safetensors"
    assert filecmp.cmp(repo / weights, ROOT / weights, shallow=False)
    _run(str(BIN / "snakemake"), "--touch", "--cores", "1", cwd=repo)  # re-stamp the pulled files in DAG order
    assert _plan(repo, "--rerun-triggers", "mtime") == NOTHING
    assert _plan(repo) == before_all

    # a fresh clone: no Snakemake metadata, files as `dvc checkout` writes them
    for out in _outs():
        shutil.rmtree(repo / out)
    shutil.rmtree(repo / ".snakemake")
    _run(dvc, "checkout", "--quiet", cwd=repo)
    _run(str(BIN / "snakemake"), "--touch", "--cores", "1", cwd=repo)
    assert _plan(repo) == NOTHING
