#!/usr/bin/env bash
# A real SLURM run for CI: starts a one-node cluster (scripts/slurm_local.sh), runs a slice of the
# default DAG through `--profile profiles/slurm`, checks that every job went through sbatch, compares
# the outputs with those of the same slice run locally (`--profile profiles/local`, same checkout and
# inputs) and stops what it started.
# The slice, on top of a run's mini model, scorer and prompt pairs: the localization job of
# feature violin (every preset), violin's balanced evaluation set, the CAA artifact of violin, its `all` sweep, and that sweep's protocol
# metrics and per-alpha curve (the `loc` arm would pull in the whole localization through
# localized.yaml; so the slice sweeps per cell, `steering.batch_arms: []`, as the GPU archs do). Run as root, after `make run` (or any run that made the upstream files):
# scripts/ci_slurm.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${VENV:-$root/.venv}/bin
targets=(
  results/localization/mini/violin/tf1/scores.csv
  results/sweeps/mini/violin/caa_all/manifest.csv
  results/protocol/mini/violin/caa_all/per_alpha.csv
)
upstream=(results/mini/model results/mini/scorer results/localization/mini/pairs.parquet)
for f in "${upstream[@]}"; do
  [ -e "$root/$f" ] || { echo "ci_slurm: $f is missing: run the default DAG first (make run)" >&2; exit 1; }
done

work=$(mktemp -d)
# a cluster that already answers (e.g. started by .ci/run for the tests) is left running
if scontrol ping >/dev/null 2>&1; then ours=false; else ours=true; fi
cleanup() { if $ours; then "$root/scripts/slurm_local.sh" stop; fi; rm -rf "$work"; }
trap cleanup EXIT

# a copy of the checkout's files and of the upstream results, times kept, so that nothing upstream reruns
copy() {
  mkdir -p "$1"
  (cd "$root" && git ls-files -co --exclude-standard -z |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -p -t "$1")
  (cd "$root" && cp -rp --parents "${upstream[@]}" "$1")
}
# run the slice in a fresh copy with a profile: run_slice <name> <profile>
run_slice() {
  copy "$work/$1"
  local start=$SECONDS
  (cd "$work/$1" && HF_HUB_OFFLINE=1 "$bin/snakemake" --profile "profiles/$2" --rerun-triggers mtime \
    --config 'steering={batch_arms: []}' -- "${targets[@]}") \
    > "$work/$1.log" 2>&1 || { tail -50 "$work/$1.log"; echo "ci_slurm: the $1 run failed" >&2; exit 1; }
  echo "ci_slurm: $1 run of the slice: $((SECONDS - start)) s"
}

run_slice local local
"$root/scripts/slurm_local.sh" start >/dev/null
run_slice slurm slurm
cd "$work"

# every job was submitted with sbatch, and the controller accepted each job id
planned=$(grep -oP '^total\s+\K\d+' slurm.log | head -1)
mapfile -t ids < <(grep -oP 'submitted with SLURM jobid \K\d+' slurm.log)
! grep -q "^localrule" slurm.log || { echo "ci_slurm: a job ran outside SLURM" >&2; exit 1; }
[ "${#ids[@]}" -gt 0 ] && [ "${#ids[@]}" = "$planned" ] ||
  { echo "ci_slurm: ${#ids[@]} sbatch submissions for $planned jobs" >&2; exit 1; }
for id in "${ids[@]}"; do
  grep -q "_slurm_rpc_submit_batch_job: JobId=$id " /var/log/slurm/slurmctld.log ||
    { echo "ci_slurm: job $id is not in the slurmctld log" >&2; exit 1; }
done
echo "ci_slurm: ${#ids[@]} jobs went through sbatch (ids ${ids[*]})"

# the same outputs as the local run's: CSVs equal up to float formatting, every other file bit for bit;
# and the slice's steering outputs (one job per artifact, cell and metrics) equal those the default run
# made in its batched mini jobs (sweep_mini_caa, protocol_metrics_mini_caa)
ROOT="$root" "$bin/python" - <<'PY'
import filecmp, os, sys
from pathlib import Path

import pandas as pd

local, slurm = Path("local"), Path("slurm")
folders = ["results/localization/mini/violin", "results/steering/mini/violin/caa", "results/sweeps/mini/violin/caa_all",
           "results/protocol/mini/violin/caa_all"]
files = {f.relative_to(slurm) for folder in folders for f in (slurm / folder).rglob("*") if f.is_file()}
other = {f.relative_to(local) for folder in folders for f in (local / folder).rglob("*") if f.is_file()}
if files != other:
    sys.exit(f"ci_slurm: the runs wrote different files: {sorted(map(str, files ^ other))[:5]}")


def same(a: Path, b: Path) -> bool:
    if a.suffix == ".csv":
        pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(b), check_exact=False, rtol=1e-6)
        return True
    return filecmp.cmp(a, b, shallow=False)


for name in sorted(files):
    if not same(slurm / name, local / name):
        sys.exit(f"ci_slurm: {name} differs between the SLURM and the local run")
print(f"ci_slurm: {len(files)} output files equal the local run's")
default = Path(os.environ["ROOT"])
steered = sorted(name for name in files if name.parts[1] in ("steering", "sweeps", "protocol"))
for name in steered:
    if not (default / name).is_file() or not same(slurm / name, default / name):
        sys.exit(f"ci_slurm: {name} differs between the per-cell jobs and the default run's batched jobs")
print(f"ci_slurm: {len(steered)} steering files equal the default run's batched jobs'")
PY
