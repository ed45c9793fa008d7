"""A function imports what it serves: cold start stays close to the runtime's own."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Heavy libraries and Google clients a function may load at start (functions-framework,
# Flask and what they bring are the runtime's own and not listed). Everything else loads on
# the first request that needs it: Cloud Tasks when a job is sent, Cloud Run and Monitoring
# when a canary is read, Pub/Sub when an event is published, pydantic and a route's
# schemas when a route first validates a body or a query.
TRACKED = (
    "google.cloud.firestore",
    "google.cloud.tasks_v2",
    "google.cloud.run_v2",
    "google.cloud.monitoring_v3",
    "google.cloud.pubsub_v1",
    "pydantic",
    "jwt",
)
NEEDED = {
    "deployments": {"google.cloud.firestore", "jwt"},
    "packages": {"google.cloud.firestore", "jwt"},
    "worker": {"google.cloud.firestore", "jwt"},
    "canary": {"google.cloud.firestore", "jwt"},
    "events": {"google.cloud.firestore"},
    "console": set(),  # a page and its settings: no Google client, no model
}


def loaded_at_start(function: str) -> set[str]:
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', 'functions/{function}/main.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", "AUTH_ENABLED": "false"}
    env["GOOGLE_CLOUD_PROJECT"] = "cold-start"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_every_function_is_listed():
    assert set(NEEDED) == {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()}


@pytest.mark.parametrize("function", sorted(NEEDED))
def test_a_function_loads_at_start_only_what_it_needs(function):
    modules = loaded_at_start(function)
    loaded = {name for name in TRACKED if name in modules}
    assert loaded == NEEDED[function], (
        f"functions/{function}/main.py loads at start {sorted(loaded - NEEDED[function])} "
        f"(import it where it is used) or no longer {sorted(NEEDED[function] - loaded)} "
        "(take it off NEEDED)"
    )


def test_the_deployments_function_loads_governance_models_only_when_served():
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('main', 'functions/deployments/main.py')\n"
        "main = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(main)\n"
        "print('shared.schemas.governance' in sys.modules)\n"
        "main.API.openapi()\n"
        "print('shared.schemas.governance' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", "AUTH_ENABLED": "false"}
    env["GOOGLE_CLOUD_PROJECT"] = "cold-start"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["False", "True"]
