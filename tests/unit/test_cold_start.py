"""A function imports what it serves: cold start stays close to the runtime's own."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_deployments_function_loads_governance_models_only_when_served():
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('main', 'functions/deployments/main.py')\n"
        "main = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(main)\n"
        "print('shared.models.governance' in sys.modules)\n"
        "main.API.openapi()\n"
        "print('shared.models.governance' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", "AUTH_ENABLED": "false"}
    env["GOOGLE_CLOUD_PROJECT"] = "cold-start"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["False", "True"]
