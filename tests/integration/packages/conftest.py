"""Fixtures of the packages integration tests: environments, the Tasks fake and a live worker."""

from __future__ import annotations

import pytest

from tests.conftest import AUDIENCE, DEPLOYER_EMAIL, make_client
from tests.fakes.server import FakeGoogleApis
from tests.support import packages as support
from tests.support.emulators import free_port


@pytest.fixture(scope="session")
def fake_apis(identity):
    with FakeGoogleApis(signer=identity.google_key.sign, **support.FAST_RETRIES) as fake:
        yield fake


@pytest.fixture
def stack(base_env, project, fake_apis):
    """packages (test client) + worker (served over HTTP, the Tasks fake delivers to it)."""
    fake_apis.reset()
    port = free_port()
    support.apply(support.stack_env(project, fake_apis.address, port, AUDIENCE))
    worker = support.AppServer("worker", port)
    client = make_client("packages")
    yield client, worker
    fake_apis.tasks.pause()
    fake_apis.tasks.wait_idle(10)
    worker.close()


@pytest.fixture
def api(stack):
    return stack[0]


@pytest.fixture
def dev(project):
    return support.database(project, "dev")


@pytest.fixture
def staging(project):
    return support.database(project, "staging")


@pytest.fixture
def headers(google_headers):
    return google_headers(DEPLOYER_EMAIL)
