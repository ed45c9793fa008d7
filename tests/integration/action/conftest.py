"""Fixtures of the Action tests: the deployments and canary functions over HTTP on one
Firestore project (the canary marks its linked deployment), the Cloud Run / Monitoring
fake, GitHub's OIDC token endpoint and REST API, and a runner for `action.yml`."""

from __future__ import annotations

import os
import threading

import pytest
import requests

from tests.conftest import AUDIENCE
from tests.support.actions import ActionRunner, FakeGitHubApi, job_env
from tests.support.canary import PROJECT, REGION, Traffic, install
from tests.support.cli import REQUEST_TOKEN, ActionsTokenServer

SERVICE = "web"


@pytest.fixture(scope="module")
def fake_apis(identity):
    from tests.fakes import FakeGoogleApis

    with FakeGoogleApis(signer=identity.google_key.sign) as fake:
        yield fake


@pytest.fixture(scope="module")
def actions_server(identity):
    server = ActionsTokenServer(identity)
    yield server
    server.close()


@pytest.fixture
def github_api():
    api = FakeGitHubApi()
    yield api
    api.close()


class Stack:
    def __init__(self, deployments, canary):
        self.deployments, self.canary = deployments, canary

    def close(self) -> None:
        self.deployments.close()
        self.canary.close()


@pytest.fixture
def stack(base_env, fake_apis):
    """The canary function, then the deployments function whose discovery names it."""
    from tests.support.packages import AppServer

    fake_apis.reset()
    for name in ("CLOUD_RUN_API_ENDPOINT", "MONITORING_API_ENDPOINT"):
        os.environ[name] = fake_apis.address
    canary = AppServer("canary")
    os.environ["CANARY_URL"] = canary.url
    deployments = AppServer("deployments")
    yield Stack(deployments, canary)
    deployments.close()
    canary.close()


@pytest.fixture
def web(fake_apis):
    """Cloud Run service `web`: web-1 serves everything, web-2 is deployed without traffic."""
    fake_apis.run.add_service(
        PROJECT,
        REGION,
        SERVICE,
        revisions=["web-1", "web-2"],
        traffic=[{"revision": "web-1", "percent": 100}],
    )
    traffic = Traffic(fake_apis, SERVICE, "web-2", "web-1")
    install(fake_apis, traffic)
    return traffic


class Sweeper:
    """Cloud Scheduler's part: calls the canary sweep until stopped."""

    def __init__(self, url: str, headers: dict):
        self.url, self.headers = url, headers
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.3):
            try:
                requests.post(f"{self.url}/v1/canaries:sweep", headers=self.headers, timeout=30)
            except requests.RequestException:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def sweeper(stack, internal_headers):
    with Sweeper(stack.canary.url, internal_headers) as running:
        yield running


@pytest.fixture
def runner(tmp_path, actions_server, github_api):
    return ActionRunner(
        tmp_path, job_env(tmp_path, actions_server.url, REQUEST_TOKEN, github_api.url)
    )


@pytest.fixture
def admin(google_headers):
    return google_headers()


@pytest.fixture
def require_approval(stack, admin):
    def apply(environment: str = "production") -> None:
        answer = requests.put(
            f"{stack.deployments.url}/v1/policies/{environment}",
            json={"requires_approval": True},
            headers=admin,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    return apply


__all__ = ["AUDIENCE", "PROJECT", "REGION", "SERVICE"]
