# Terraform and packaging targets; the root Makefile includes this file.

TF_PYTHON := $(or $(PYTHON),python3)

.PHONY: tf-check zips

tf-check: ## Check terraform/: fmt, offline schema check (validate when online), checkov
	PYTHON=$(TF_PYTHON) bash scripts/tf_check.sh

zips: ## Build one source zip per function into build/zips (named by content hash)
	$(TF_PYTHON) scripts/build_zips.py --out build/zips
