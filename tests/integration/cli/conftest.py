"""Fixtures of the CLI tests: the deployments function as a real process, a GitHub Actions
OIDC token endpoint, and a runner that calls `cli.main.main` and captures what it prints."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    APPROVER_EMAIL,
    AUDIENCE,
    DEPLOYER_EMAIL,
    INTERNAL_EMAIL,
    VIEWER_EMAIL,
)
from tests.support.cli import REQUEST_TOKEN, ActionsTokenServer
from tests.support.emulators import free_port, start_function

CLI_ENV = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_TOKEN",
    "DEPLOYQ_URL",
    "DEPLOYQ_PACKAGES_URL",
    "DEPLOYQ_CANARY_URL",
    "DEPLOYQ_ORG",
    "DEPLOYQ_TOKEN",
    "DEPLOYQ_AUTH",
    "DEPLOYQ_AUDIENCE",
    "DEPLOYQ_OIDC_AUDIENCE",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@pytest.fixture(scope="module")
def actions_server(identity):
    server = ActionsTokenServer(identity)
    yield server
    server.close()


@pytest.fixture(scope="module")
def deployments_url(firestore_emulator, identity, log_dir):
    """The deployments function, started once per module as DESIGN.md runs it."""
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "GOOGLE_CLOUD_PROJECT": f"cli-{uuid.uuid4().hex[:10]}",
        "AUTH_ENABLED": "true",
        "ORG_ACCESS": json.dumps(
            {
                "acme": {
                    ADMIN_EMAIL: "admin",
                    VIEWER_EMAIL: "viewer",
                    DEPLOYER_EMAIL: "deployer",
                    APPROVER_EMAIL: "approver",
                }
            }
        ),
        "INTERNAL_SERVICE_ACCOUNTS": INTERNAL_EMAIL,
        **identity.env(AUDIENCE),
    }
    port = free_port()
    process = start_function("deployments", port, env, log_dir)
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.fixture
def cli_env(monkeypatch, actions_server, deployments_url):
    """A GitHub Actions job with `id-token: write`, pointed at the deployments function."""
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", actions_server.url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
    monkeypatch.setenv("DEPLOYQ_URL", deployments_url)
    return monkeypatch


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[:500]!r}, err={self.err[:500]!r})"


@pytest.fixture
def cli(capsys):
    """Run `deployq ARGS...` in-process; returns its exit code and what it printed."""
    from cli.main import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def component():
    """A component name of its own, so tests sharing one function process never collide."""
    return f"svc-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def fake_apis(identity):
    """The gRPC fake of Cloud Tasks, Cloud Run Admin v2 and Monitoring v3 for this module."""
    from tests.fakes import FakeGoogleApis
    from tests.support.packages import FAST_RETRIES

    with FakeGoogleApis(signer=identity.google_key.sign, **FAST_RETRIES) as fake:
        yield fake


@pytest.fixture
def packages_stack(base_env, project, fake_apis, monkeypatch):
    """packages + worker served over HTTP in this process; the Tasks fake delivers to the worker.
    The CLI calls the packages function as the deployer (a Google identity of org acme)."""
    from tests.support import packages as support

    fake_apis.reset()
    worker_port = free_port()
    support.apply(support.stack_env(project, fake_apis.address, worker_port, AUDIENCE))
    worker = support.AppServer("worker", worker_port)
    packages = support.AppServer("packages")
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEPLOYQ_PACKAGES_URL", packages.url)
    monkeypatch.setenv("DEPLOYQ_ORG", "acme")
    yield packages
    fake_apis.tasks.pause()
    fake_apis.tasks.wait_idle(10)
    packages.close()
    worker.close()


@pytest.fixture
def canary_stack(base_env, fake_apis, actions_server, monkeypatch):
    """The canary function served over HTTP in this process, on the Cloud Run / Monitoring fake;
    the CLI calls it as a GitHub Actions job."""
    from tests.support import packages as support
    from tests.support.organisations import grant_canary_services

    fake_apis.reset()
    grant_canary_services(base_env["GOOGLE_CLOUD_PROJECT"])
    for name in ("CLOUD_RUN_API_ENDPOINT", "MONITORING_API_ENDPOINT", "TASKS_EMULATOR_HOST"):
        monkeypatch.setenv(name, fake_apis.address)
    server = support.AppServer("canary")
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", actions_server.url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
    monkeypatch.setenv("DEPLOYQ_CANARY_URL", server.url)
    yield server
    server.close()
