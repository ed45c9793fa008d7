#!/usr/bin/env bash
# Terraform checks, offline-friendly:
#   1. terraform fmt -check (skipped when terraform is not installed);
#   2. the offline schema check of ../shared/tools/tfcheck, and `terraform validate`
#      as well when `terraform init` can download the providers;
#   3. checkov, where every skipped check must carry a written reason.
# Installs what it needs into .venv-tfcheck / .venv-checkov (PyPI only).
# Exits non-zero when any check fails.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
TF_DIRS=(terraform terraform/modules/firestore_index_wave terraform/examples/basic)
TFCHECK_DIR=../shared/tools/tfcheck
failed=()

# A TF_CLI_CONFIG_FILE that points at a missing file only makes terraform warn.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "$TF_CLI_CONFIG_FILE" ]]; then
  unset TF_CLI_CONFIG_FILE
fi

step() { printf '\n== %s\n' "$*"; }

# venv DIR CHECK REQUIREMENT: create DIR and install REQUIREMENT there unless the
# Python snippet CHECK already succeeds in it.
venv() {
  local dir=$1 check=$2 requirement=$3
  if [[ ! -x "$dir/bin/python" ]]; then
    "$PYTHON" -m venv "$dir" || return 1
  fi
  if ! "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "installing $requirement into $dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" 2>&1 \
      | grep -v "^WARNING: Location" || true
    "$dir/bin/python" -c "$check" >/dev/null 2>&1 || return 1
  fi
}

# --- 1. formatting -------------------------------------------------------------
step "terraform fmt -check"
if command -v terraform >/dev/null 2>&1; then
  if terraform fmt -check -recursive -diff terraform; then
    echo "fmt: OK"
  else
    echo "fmt: run 'terraform fmt -recursive terraform'"
    failed+=("fmt")
  fi
else
  echo "fmt: skipped, terraform is not installed"
fi

# --- 2. schema ----------------------------------------------------------------
step "offline schema check (tfcheck)"
if [[ -f "$TFCHECK_DIR/validate.py" ]]; then
  # python-hcl2 8 reports comments as '__comments__' arguments, which validate.py does not know.
  if venv .venv-tfcheck 'import importlib.metadata as m; assert m.version("python-hcl2").split(".")[0] == "7"' "python-hcl2>=7,<8"; then
    tf_files=()
    for dir in "${TF_DIRS[@]}"; do tf_files+=("$dir"/*.tf); done
    # The schema is the google provider's; the one google-beta-only resource the module uses
    # (provider = google-beta) is added from its documentation:
    # https://registry.terraform.io/providers/hashicorp/google-beta/latest/docs/resources/project_service_identity
    .venv-tfcheck/bin/python - "$TFCHECK_DIR" "${tf_files[@]}" <<'PY' || failed+=("schema")
import sys

sys.path.insert(0, sys.argv[1])
import validate

argument = {"required": False, "block": None}
validate.SCHEMA.setdefault("google_project_service_identity", {
    "project": argument,
    "service": {"required": True, "block": None},
    "timeouts": {"required": False, "block": {"create": argument}},
})
sys.exit(validate.main(sys.argv[2:]))
PY
  else
    echo "tfcheck: could not install python-hcl2"
    failed+=("schema")
  fi
else
  echo "tfcheck: skipped, $TFCHECK_DIR is absent"
fi

step "terraform validate (needs the providers from the registry)"
if command -v terraform >/dev/null 2>&1; then
  # Work on a copy so init leaves no .terraform or lock file in the repository.
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cp -r terraform "$scratch/terraform"
  rm -rf "$scratch/terraform/.terraform" "$scratch/terraform/examples/basic/.terraform"
  for dir in "${TF_DIRS[@]}"; do
    if timeout 300 terraform -chdir="$scratch/$dir" init -backend=false -input=false -no-color >"$scratch/init.log" 2>&1; then
      terraform -chdir="$scratch/$dir" validate -no-color || failed+=("validate $dir")
    else
      echo "validate $dir: skipped, terraform init could not download the providers (offline?): $(grep -m1 -iE 'error|no such host' "$scratch/init.log" | sed 's/^[│ ]*//')"
    fi
  done
else
  echo "validate: skipped, terraform is not installed"
fi

# --- 3. checkov ----------------------------------------------------------------
step "checkov"
unexplained=$(grep -rnE '#[[:space:]]*checkov:skip=[A-Z0-9_]+[[:space:]]*$' terraform --include='*.tf' || true)
if [[ -n "$unexplained" ]]; then
  echo "checkov skips without a reason (write #checkov:skip=CKV_...:why):"
  echo "$unexplained"
  failed+=("checkov-skip-reason")
fi
if venv .venv-checkov 'import checkov' checkov; then
  # BC_SKIP_MAPPING: no download of the guideline links; --skip-download: no platform calls.
  if BC_SKIP_MAPPING=TRUE .venv-checkov/bin/checkov -d terraform --quiet --compact \
      --framework terraform --skip-download; then
    echo "checkov: OK"
  else
    failed+=("checkov")
  fi
  echo "checkov skips and their reasons:"
  grep -rhoE 'checkov:skip=[A-Z0-9_]+:.*' terraform --include='*.tf' | sed 's/^checkov:skip=/  /' | sort -u
else
  echo "checkov: could not install it from PyPI"
  failed+=("checkov")
fi

echo
if ((${#failed[@]})); then
  echo "tf-check FAILED: ${failed[*]}"
  exit 1
fi
echo "tf-check passed"
