# Finsta graph pipeline. `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

DATASET ?= demo
DATA_ROOT ?= data/$(DATASET)
OUT ?= out/$(DATASET)
GRAPHS ?= $(OUT)/graphs
RUN ?= $(OUT)/runs/pretrain
ARGS ?=
GOLD ?=

.DEFAULT_GOAL := help
.PHONY: help install demo build-graphs pretrain eval-dsg eval-tsg tsg-parser eval report detector test test-all bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'
	@echo "  variables: DATASET=$(DATASET) DATA_ROOT=$(DATA_ROOT) OUT=$(OUT) ARGS='extra flags'"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[pipeline,train,dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with all extras (quick when done)

demo: install ## generate the demo data, build its graphs, train briefly, show where things are
	$(PY) -m jobs.demo --data-root data/demo --out out/demo $(ARGS)

build-graphs: install ## videos + captions -> Parquet graph shards (DATASET=activitynet|msrvtt|generic|demo)
	$(PY) -m jobs.build_graphs --dataset $(DATASET) --data-root $(DATA_ROOT) --out $(GRAPHS) $(ARGS)

pretrain: install ## train Finsta on GRAPHS through `ray job submit` on a local or RAY_ADDRESS cluster
	bash jobs/submit.sh python -m jobs.pretrain --graphs $(abspath $(GRAPHS)) --run-dir $(abspath $(RUN)) $(ARGS)

eval-dsg: install ## DSG quality against the demo ground truth: detection, tracking, relations
	$(PY) -m jobs.eval_dsg --data-root data/demo $(ARGS)

eval-tsg: install ## caption parsers (rules, learned) P/R/F1 per kind on a FACTUAL csv: make eval-tsg GOLD=factual_sg_dev.csv (README: eval-tsg)
	$(PY) -m jobs.eval_tsg $(if $(GOLD),--gold $(GOLD)) $(ARGS)

tsg-parser: install ## train the learned caption parser on FACTUAL train, print its dev F1, write its weights
	$(PY) -m jobs.train_tsg_parser $(ARGS)

eval: install ## the compositional benchmark (held-out wording/compositions, controls, trained host); ARGS='--preset quick|gpu'
	$(PY) -m jobs.evaluate --data-root data/demo-bench --graphs out/demo-bench/graphs --out out/demo-bench/eval $(ARGS)

report: install ## static HTML report of a shard set: make report GRAPHS=... OUT=...
	$(PY) -m jobs.report --graphs $(GRAPHS) --out $(OUT)/report $(ARGS)

detector: install ## retrain the demo shape detector into data/demo/runs (ARGS=--weights-out FILE to install it)
	$(PY) -m jobs.train_detector --data-root data/demo $(ARGS)

test: install ## fast tests (what CI runs)
	$(PY) -m pytest -q $(ARGS)

test-all: install ## all tests, slow ones included
	$(PY) -m pytest -q -m 'not gpu' $(ARGS)

bench: install ## benchmarks: tables of ratios measured in one run
	for b in bench/[a-z]*.py; do echo "== $$b"; $(PY) -m bench.$$(basename $$b .py) || exit 1; done

lint: install ## ruff
	$(PY) -m ruff check schemas pipeline model jobs tests bench

clean: ## remove generated data and outputs (keeps .venv)
	rm -rf data out runs
