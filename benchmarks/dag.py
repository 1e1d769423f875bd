"""Size and planning time of the workflow's DAGs, and the model loads the paper needs.

Plans (``snakemake -n``) the default DAG and the paper's (``config/paper.yaml``; needs the reference
steering data, ``--reference-prompts``) in fresh result folders, prints each one's wall time and job
count, and, per architecture of the paper, its model loads: one per GPU job (localization, artifact,
sweep) now, against one per (feature, preset) cell before localization was batched per feature.
Goal: the paper DAG plans in <= 10 s.

Usage: ``python benchmarks/dag.py [--reference-prompts ../shared/reference/tada-steering]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tada.localization.studies import layer_names
from tada.models import ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]


def plan(results: Path, configfiles: list[str], *config: str) -> tuple[float, list[tuple[str, str]]]:
    """Wall time of a dry run and its (rule, arch) per job."""
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--directory", str(ROOT), *configfiles, "--config",
         f"results={results}", *config],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    jobs = []
    for block in re.split(r"^\[.*\]$", run.stdout, flags=re.M):
        rule = re.search(r"^(?:local)?rule (\w+):", block, flags=re.M)
        if rule:
            arch = re.search(r"wildcards:.*?\barch=(\w+)", block)
            jobs.append((rule.group(1), arch.group(1) if arch else ""))
    return elapsed, jobs


def model_job(rule: str, arch: str) -> tuple[str, str] | None:
    """(kind, arch) of a job that loads a diffusion model, else None."""
    if rule.startswith("localization_") and rule.removeprefix("localization_") in ARCHITECTURES:
        return "localization", rule.removeprefix("localization_")
    return (rule, arch) if rule in ("steering_artifact", "sweep") else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-prompts", default=str(ROOT.parent / "shared" / "reference" / "tada-steering"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds, jobs = plan(Path(tmp) / "default", [])
        print(f"default DAG: {len(jobs)} jobs planned in {seconds:.1f} s")
        seconds, jobs = plan(
            Path(tmp) / "paper", ["--configfile", str(ROOT / "config" / "paper.yaml")],
            f"steering={{reference_prompts: {args.reference_prompts}}}",
        )  # fmt: skip
    print(f"paper DAG:   {len(jobs)} jobs planned in {seconds:.1f} s (goal <= 10 s)")
    print("\nmodel loads of the paper per arch (one per GPU job):")
    print(f"{'arch':<14}{'localization before':>20}{'after':>8}{'artifacts':>11}{'sweeps':>8}{'total after':>13}")
    loads = Counter(job for job in (model_job(rule, arch) for rule, arch in jobs) if job)
    for arch in sorted({a for _, a in loads}):
        features = loads["localization", arch]
        before = features * (len(layer_names(arch)) + 2)  # one job per (feature, preset), presets = layers + none + all
        after = [features, loads["steering_artifact", arch], loads["sweep", arch]]
        print(f"{arch:<14}{before:>20}{after[0]:>8}{after[1]:>11}{after[2]:>8}{sum(after):>13}")


if __name__ == "__main__":
    main()
