"""Fixtures of the canary end-to-end tests: the fake APIs and the function as a real process."""

from __future__ import annotations

import pytest

from tests.conftest import AUDIENCE, INTERNAL_EMAIL
from tests.fakes import FakeGoogleApis
from tests.support.canary import HealthServer
from tests.support.emulators import free_port, start_function
from tests.support.organisations import grant_canary_services

QUEUE = "projects/deployq-test/locations/europe-west1/queues/deployq"


@pytest.fixture(scope="session")
def e2e_fake(identity):
    with FakeGoogleApis(signer=identity.google_key.sign) as fake:
        yield fake


@pytest.fixture(scope="session")
def e2e_health():
    server = HealthServer()
    yield server
    server.close()


@pytest.fixture
def fake(e2e_fake, e2e_health):
    e2e_fake.reset()
    e2e_fake.run.tag_url_template = e2e_health.template
    yield e2e_fake
    e2e_fake.reset()


@pytest.fixture
def canary_url(base_env, fake, log_dir):
    """The canary function and the worker on free ports; checks reach the worker as jobs.

    WORKER_URL names the worker only: nothing derives another function's URL from it.
    """
    port, worker_port = free_port(), free_port()
    worker = f"http://127.0.0.1:{worker_port}"
    grant_canary_services(base_env["GOOGLE_CLOUD_PROJECT"])
    env = {
        **base_env,
        "CLOUD_RUN_API_ENDPOINT": fake.address,
        "MONITORING_API_ENDPOINT": fake.address,
        "TASKS_EMULATOR_HOST": fake.address,
        "TASKS_QUEUE": QUEUE,
        "TASKS_SERVICE_ACCOUNT": INTERNAL_EMAIL,
        "WORKER_URL": f"{worker}/tasks/run",
        "GOOGLE_ID_TOKEN_AUDIENCES": f"{AUDIENCE},{worker}",
    }
    processes = [
        start_function("canary", port, env, log_dir),
        start_function("worker", worker_port, env, log_dir),
    ]
    yield f"http://127.0.0.1:{port}"
    for process in processes:
        process.stop()
