# One-command set-up: `make run` (the default DAG) and `make test` create .venv on first use.
# torch is pinned to the CPU wheel available offline here; on a GPU cluster install your CUDA
# torch into the environment first (the pin is then already satisfied or override TORCH=).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
CORES ?= 2
export HF_HUB_OFFLINE ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)" 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import tada, torch, snakemake"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/snakemake --profile profiles/local --cores $(CORES)

test: $(VENV)/.installed
	$(VENV)/bin/pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/hook_overhead.py
	$(PY) benchmarks/patching.py

clean:
	rm -rf results .snakemake
