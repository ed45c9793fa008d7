SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: help init lock dev test test-unit lint audit format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

init: $(VENV)/.installed functions/console/static/index.html ## Create the virtualenv, install the locked runtime + dev dependencies, build the console

functions/console/static/index.html: console/package-lock.json $(wildcard console/src/*) console/build.mjs
	cd console && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

# Only hashed files from the lock are installed; the project itself without build isolation,
# with the locked setuptools, so nothing unlocked is downloaded.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host

lock: init ## Recompile the hashed locks (requirements*.txt) from requirements*.in
	$(PY) -m piptools compile $(LOCK_FLAGS) --output-file=requirements.txt requirements.in
	$(PY) -m piptools compile $(LOCK_FLAGS) --output-file=requirements-dev.txt requirements-dev.in

dev: init ## Run the stack locally: emulators, fakes and every function on fixed loopback ports
	$(PY) scripts/dev.py

test: init ## Run every test (starts and stops the emulators it needs)
	$(PY) -m pytest

test-unit: init ## Run the unit tests only (no emulators)
	$(PY) -m pytest tests/unit

lint: init ## Lint, check formatting, the layers (import-linter), dead code (vulture), workflows, dependency audit
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/dead_code.py
	$(PY) -m check_jsonschema --builtin-schema vendor.github-workflows examples/github/*.yml
	$(PY) -m check_jsonschema --builtin-schema vendor.github-actions action.yml
	cd console && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent check  # TypeScript, strict
	$(PY) scripts/audit_deps.py

audit: init ## Audit the locked dependencies for known vulnerabilities (pip-audit)
	$(PY) scripts/audit_deps.py

format: init ## Format and fix with ruff
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: init ## Run the benchmarks (not tests): prints ratios against same-run baselines
	$(PY) -m bench

clean: ## Remove the virtualenvs and caches
	rm -rf $(VENV) .venv-* .pytest_cache .ruff_cache .hypothesis build console/node_modules functions/console/static

-include terraform/terraform.mk
