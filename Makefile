SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: help init dev test test-unit lint format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

init: $(VENV)/.installed functions/console/static/index.html ## Create the virtualenv, install runtime + dev dependencies, build the console

functions/console/static/index.html: console/package-lock.json $(wildcard console/src/*) console/build.mjs
	cd console && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

dev: init ## Run the stack locally: emulators, fakes and every function on fixed loopback ports
	$(PY) scripts/dev.py

test: init ## Run every test (starts and stops the emulators it needs)
	$(PY) -m pytest

test-unit: init ## Run the unit tests only (no emulators)
	$(PY) -m pytest tests/unit

lint: init ## Lint and check formatting with ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m check_jsonschema --builtin-schema vendor.github-workflows examples/github/*.yml
	$(PY) -m check_jsonschema --builtin-schema vendor.github-actions action.yml
	cd console && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent check  # TypeScript, strict

format: init ## Format and fix with ruff
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: init ## Run the benchmarks (not tests): prints ratios against same-run baselines
	$(PY) -m bench

clean: ## Remove the virtualenvs and caches
	rm -rf $(VENV) .venv-* .pytest_cache .ruff_cache build console/node_modules functions/console/static

-include terraform/terraform.mk
