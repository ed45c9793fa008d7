"""Fixtures of the canary integration tests: the gRPC fake, the health endpoint, the function."""

from __future__ import annotations

import os

import pytest

from tests.conftest import make_client
from tests.fakes import FakeGoogleApis
from tests.support.canary import PROJECT, REGION, HealthServer
from tests.support.organisations import grant_canary_services


@pytest.fixture(scope="session")
def canary_fake(identity):
    with FakeGoogleApis(signer=identity.google_key.sign) as fake:
        yield fake


@pytest.fixture(scope="session")
def health_server():
    server = HealthServer()
    yield server
    server.close()


@pytest.fixture
def fake(canary_fake, health_server):
    canary_fake.reset()
    canary_fake.run.tag_url_template = health_server.template
    health_server.status, health_server.delay = 200, 0.0
    health_server.requests.clear()
    yield canary_fake
    canary_fake.reset()


@pytest.fixture
def canary_env(base_env, fake):
    env = {
        "CLOUD_RUN_API_ENDPOINT": fake.address,
        "MONITORING_API_ENDPOINT": fake.address,
        "TASKS_EMULATOR_HOST": fake.address,
    }
    os.environ.update(env)
    grant_canary_services(base_env["GOOGLE_CLOUD_PROJECT"])
    return {**base_env, **env}


@pytest.fixture
def canaries(canary_env):
    """A test client of the canary function (checks through the sweep: no WORKER_URL)."""
    return make_client("canary")


@pytest.fixture
def service(fake):
    """A Cloud Run service `web`: web-1 serves 100%, web-2 deployed with no traffic."""
    fake.run.add_service(
        PROJECT,
        REGION,
        "web",
        revisions=["web-1", "web-2"],
        traffic=[{"revision": "web-1", "percent": 100}],
    )
    return "web"
