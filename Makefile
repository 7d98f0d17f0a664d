# cmestudy: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RAW    ?= data/raw
OUT    ?= output
# language of the report: en or zh (make report REPORT_LANG=zh)
REPORT_LANG ?= en
STAMP  := $(VENV)/.cmestudy-installed
LOCK   := requirements.lock

.DEFAULT_GOAL := help
.PHONY: help report test lab lock data consistency bench bench-exact bench-scale clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

# Every package at the version of requirements.lock, each file checked against its SHA-256
# (pip's hash-checking mode), then cmestudy itself (its dependencies are all in the lock).
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name cmestudy --display-name "Python (cmestudy)" >/dev/null
	@touch $@

report: $(STAMP) ## Run the whole study on $(RAW); write $(OUT)/report.html, .pdf, .docx (REPORT_LANG=en|zh)
	$(BIN)/cmestudy run --raw $(RAW) --out $(OUT) --lang $(REPORT_LANG)

test: $(STAMP) ## Run the test suite: ruff (lint and format check), then pytest with the docstring examples
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/python -m pytest

lab: $(STAMP) ## Open JupyterLab on the notebooks with the cmestudy kernel
	$(BIN)/jupyter lab notebooks/

data: $(STAMP) ## Regenerate the reconstructed default data set in data/raw/ (byte-identical)
	$(BIN)/cmestudy reconstruct --raw data/raw

lock: $(STAMP) ## Refresh requirements.lock from pyproject.toml (current pins kept) and environment.yml from it
	$(BIN)/uv pip compile pyproject.toml --extra test --extra bench --extra lock --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		--quiet -o $(LOCK)
	$(BIN)/python -m cmestudy.lockfile environment > environment.yml.tmp && mv environment.yml.tmp environment.yml

consistency: $(STAMP) ## Tables consistent with the published figures (about 5 min): data/raw/published-consistency.json
	$(BIN)/cmestudy consistency --raw data/raw --out data/raw/published-consistency.json

bench: $(STAMP) ## Benchmark ingest at 1M and 10M rows against DuckDB, and the study run (output/benchmarks/)
	$(BIN)/python benchmarks/bench.py

bench-scale: $(STAMP) ## Dask engine at 30 and 100 million rows, threads and a 2-worker cluster, peak memory of every process (not in CI)
	$(BIN)/python benchmarks/scale.py

bench-exact: $(STAMP) ## Time Fisher's exact test on r x c tables against R's fisher.test (output/benchmarks/)
	$(BIN)/python benchmarks/exact.py

clean: ## Remove derived files (data/processed/, output/); keeps .venv
	find data/processed output -mindepth 1 ! -name README.md -exec rm -rf {} +
