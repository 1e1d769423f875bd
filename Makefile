# One-command set-up: `make run` (the default DAG) and `make test` create .venv on first use.
# torch is pinned to the CPU wheel available offline here; on a GPU cluster install your CUDA
# torch into the environment first (the pin is then already satisfied or override TORCH=).
# `make test` needs no results and no reference data; `make check-run` checks the results of
# `make run` (and fails where they are missing). Python runs with `-m` from the checkout, so the
# checkout's own `tada` is imported even when VENV points to another checkout's environment.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
CORES ?= 2
PYTEST_ARGS ?=
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# a failing command anywhere in a recipe's pipe fails the recipe (pip's, not grep's, status counts)
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
# pip's notes about this machine's wheel folders, dropped from the install output (never the status)
PIP_QUIET := { grep -v "is ignored: it is neither" || true; }

.PHONY: run test test-fast check-run bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)" 2>&1 | $(PIP_QUIET)
	$(PY) -m pip install -q -e ".[dev]" 2>&1 | $(PIP_QUIET)
	$(PY) -c "import tada, torch, snakemake"
	touch $@

run: $(VENV)/.installed
	$(PY) -m snakemake --profile profiles/local --cores $(CORES)

# the tests never reach the hub (HF_HUB_OFFLINE here, not for `make run`: a hub checkpoint must load)
test test-fast check-run: export HF_HUB_OFFLINE = 1

# one test file per worker (pytest-xdist): files share module-scoped tiny models; $(CORES) workers
test: $(VENV)/.installed
	$(PY) -m pytest -m "not default_run" -n $(CORES) --dist loadfile $(PYTEST_ARGS)

test-fast: $(VENV)/.installed  # the part of `make test` that trains nothing and runs no workflow
	$(PY) -m pytest -m "not default_run and not slow" -q $(PYTEST_ARGS)

check-run: $(VENV)/.installed  # after `make run`: its results meet their targets (every default_run test,
	# tests/default_run and the trained-mini checks beside the unit tests of their method)
	$(PY) -m pytest -m default_run $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) benchmarks/hook_overhead.py
	$(PY) benchmarks/patching.py
	$(PY) benchmarks/steering.py

clean:
	rm -rf results .snakemake
