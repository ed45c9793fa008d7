"""A function imports what it serves: cold start stays close to the runtime's own."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.scripts import load_script

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


def run(code: str, cwd: Path = ROOT) -> list[str]:
    """What `code` prints, in a fresh interpreter with the functions' local settings."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", "AUTH_ENABLED": "false"}
    env["GOOGLE_CLOUD_PROJECT"] = "cold-start"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=cwd
    )
    return out.stdout.split()


LOAD = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('main', 'functions/{}/main.py')\n"
    "main = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(main)\n"
)


def test_the_deployments_function_loads_governance_models_only_when_served():
    code = LOAD.format("deployments") + (
        "print('shared.schemas.governance' in sys.modules)\n"
        "main.API.openapi()\n"
        "print('shared.schemas.governance' in sys.modules)\n"
    )
    assert run(code) == ["False", "True"]


def test_a_route_without_a_body_or_query_model_never_loads_pydantic():
    # /health answers with a response model, which only the OpenAPI document needs.
    code = LOAD.format("deployments") + (
        "import flask\n"
        "with flask.Flask('t').test_request_context('/health'):\n"
        "    answer = main.API.handle(flask.request)\n"
        "print(answer.status_code, 'pydantic' in sys.modules)\n"
        "with flask.Flask('t').test_request_context('/openapi.json'):\n"
        "    answer = main.API.handle(flask.request)\n"
        "print(answer.status_code, 'pydantic' in sys.modules)\n"
    )
    assert run(code) == ["200", "False", "200", "True"]


def test_the_models_are_plain_python():
    # Services import statuses, tables and public views from shared.models at start;
    # pydantic classes live in shared.schemas, loaded by the routes that validate.
    modules = sorted(p.stem for p in (ROOT / "shared" / "models").glob("*.py"))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('shared.models.' + name)\n"
        "print('pydantic' in sys.modules)\n"
    )
    assert run(code) == ["False"]


def test_a_shipped_function_imports_its_modules_from_bytecode(tmp_path):
    build_zips = load_script("build_zips")
    zipfile.ZipFile(io.BytesIO(build_zips.build("worker"))).extractall(tmp_path)
    code = (
        "import importlib._bootstrap_external as external, importlib.util, sys\n"
        "compile_source = external.SourceLoader.source_to_code\n"
        "def traced(self, data, path, **kw):\n"
        "    print('compiled:' + path)\n"
        "    return compile_source(self, data, path, **kw)\n"
        "external.SourceLoader.source_to_code = traced\n"
        "spec = importlib.util.spec_from_file_location('main', 'main.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('from:' + sys.modules['shared.web'].__spec__.cached)\n"
    )
    out = run(code, cwd=tmp_path)
    assert [line for line in out if line.startswith("compiled:")] == []
    tag = sys.implementation.cache_tag
    assert out[-1] == f"from:{tmp_path}/shared/web/__pycache__/__init__.{tag}.pyc"
