# skuhub: the two commands that matter are `make run` and `make test`.
# Everything runs from the project's own virtualenv in .venv (created on demand).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skuhub-installed
MYPY_TARGETS := $(wildcard libs/skuhub_*) $(wildcard services/*/skuhub_*) tests

.PHONY: help setup run test lint fmt constraints schemas clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install skuhub with its dev tools (again only when pyproject.toml changes)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: setup ## Start Kafka, PostgreSQL and the four services locally, with demo data (Ctrl-C stops)
	$(BIN)/skuhub dev --demo

test: setup lint ## Lint, then run every test against the real broker and PostgreSQL
	$(BIN)/python -m pytest -p no:cacheprovider

lint: setup ## ruff, formatting, mypy (strict) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_TARGETS)
	$(BIN)/lint-imports

fmt: setup ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: bench bench-quick bench-backlog
bench: setup ## Benchmark on the embedded stack (throughput, latency, accuracy, memory, a million movements; ~25 min)
	$(BIN)/skuhub bench

bench-quick: setup ## The short benchmark (about 2½ minutes); results in bench-results/
	$(BIN)/skuhub bench --quick

bench-backlog: setup ## The short benchmark, then stock draining 1,000,000 trickled movements (~15 min)
	$(BIN)/skuhub bench --quick --backlog 1000000

constraints: setup ## Rewrite constraints.txt from what .venv holds (after changing pyproject.toml)
	@{ sed -n '1,3p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable --all \
		| grep -v -E '^(pip|setuptools|wheel)=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

schemas: setup ## Regenerate schemas/ (JSON Schema + AsyncAPI) from the contracts
	$(BIN)/skuhub schemas

clean: ## Remove caches, build output and the dev stack's state (.skuhub: logs, Kafka's log, database)
	rm -rf .skuhub build dist .mypy_cache .ruff_cache .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove the virtualenv too
	rm -rf $(VENV)
