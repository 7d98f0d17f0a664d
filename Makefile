# cmestudy: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RAW    ?= data/raw
OUT    ?= output
# language of the report: en or zh (make report REPORT_LANG=zh)
REPORT_LANG ?= en
LOCK   := requirements.lock
# install.py makes $(VENV) with $(PYTHON) and installs the lock; given on the command line
# (make report PYTHON=python3.12), a venv of another Python version is made again.
SETUP  := $(PYTHON) install.py --venv $(VENV) --quiet $(if $(filter command line environment,$(origin PYTHON)),--rebuild-for-this-python)

.DEFAULT_GOAL := help
.PHONY: help install report test test-all lab lock wheelhouse data example consistency bench bench-exact bench-scale bench-institutions clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

install: ## Create $(VENV) with every package of requirements.lock (hash-checked), cmestudy and its kernel
	@$(SETUP)

report: install ## Run the whole study on $(RAW); write $(OUT)/report.html, .pdf, .docx (REPORT_LANG=en|zh)
	$(BIN)/cmestudy run --raw $(RAW) --out $(OUT) --lang $(REPORT_LANG)

test: install ## Run the test suite: ruff (lint and format check), then pytest with the docstring examples (not the slow tier)
	$(BIN)/ruff check lib tests benchmarks install.py
	$(BIN)/ruff format --check lib tests benchmarks install.py
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadfile

test-slow: install ## The slow tier: soak loops, exhaustive searches, checks in LibreOffice and a browser (CI runs it)
	$(BIN)/python -m pytest -m slow -n 2 --dist loadfile

lab: install ## JupyterLab on the project (notebooks in front; saving never writes outputs into notebooks/)
	$(BIN)/jupyter lab --config=jupyter_server_config.py $(if $(filter 0,$(shell id -u)),--allow-root)

data: install ## Regenerate the reconstructed default data set in data/raw/ (byte-identical)
	$(BIN)/cmestudy reconstruct --raw data/raw

lock: install ## Refresh requirements.lock (every Python 3.11-3.13 and platform; current pins kept) and environment.yml
	$(BIN)/python -m cmestudy.lockfile compile
	$(BIN)/python -m cmestudy.lockfile environment > environment.yml.tmp && mv environment.yml.tmp environment.yml

# make wheelhouse [WHEELS=wheels] [TARGET=windows-x86_64] [PY=3.12]: the files for an offline install
WHEELS ?= wheels
wheelhouse: ## Download every locked file for an offline install into $(WHEELS)/ (TARGET=, PY= for another machine)
	$(PYTHON) install.py wheelhouse $(WHEELS) --venv $(VENV) $(if $(TARGET),--target $(TARGET)) $(if $(PY),--python $(PY))

example: install ## Regenerate the synthetic multi-institution example in data/examples/city/ (then: make report RAW=data/examples/city OUT=output/city)
	$(BIN)/cmestudy example city --out data/examples/city

consistency: install ## Tables consistent with the published figures (about 5 min): data/raw/published-consistency.json
	$(BIN)/cmestudy consistency --raw data/raw --out data/raw/published-consistency.json

bench: install ## Benchmark ingest at 1M and 10M rows against DuckDB, and the study run (output/benchmarks/)
	$(BIN)/python benchmarks/bench.py

bench-scale: install ## Ingest and the whole study (cmestudy run) at 30 and 100 million rows, both engines, threads and a 2-worker cluster, peak of every process (not in CI)
	$(BIN)/python benchmarks/scale.py

bench-institutions: install ## The regional study of 200 institutions at 10 million enrolments vs the single report (not in CI)
	$(BIN)/python benchmarks/institutions.py

bench-exact: install ## Time Fisher's exact test on r x c tables against R's fisher.test (output/benchmarks/)
	$(BIN)/python benchmarks/exact.py

clean: ## Remove derived files (data/processed/, output/); keeps .venv
	find data/processed output -mindepth 1 ! -name README.md -exec rm -rf {} +
