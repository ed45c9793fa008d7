"""A canary check job delivered to two worker processes at the same moment runs once."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import AUDIENCE, INTERNAL_EMAIL
from tests.e2e.canary.conftest import QUEUE
from tests.e2e.canary.test_canary_e2e import add_service, get, shares
from tests.support.canary import Traffic, canary_body, install
from tests.support.emulators import free_port, start_function
from tests.support.organisations import grant_canary_services

DELIVERIES = 6


@pytest.fixture
def canary_and_two_workers(base_env, fake, log_dir, project):
    grant_canary_services(project)
    fake.tasks.pause()  # the deliveries of the test are the only ones
    port, ports = free_port(), [free_port(), free_port()]
    workers = [f"http://127.0.0.1:{p}" for p in ports]
    env = {
        **base_env,
        "CLOUD_RUN_API_ENDPOINT": fake.address,
        "MONITORING_API_ENDPOINT": fake.address,
        "TASKS_EMULATOR_HOST": fake.address,
        "TASKS_QUEUE": QUEUE,
        "TASKS_SERVICE_ACCOUNT": INTERNAL_EMAIL,
        "WORKER_URL": f"{workers[0]}/tasks/run",
        "GOOGLE_ID_TOKEN_AUDIENCES": ",".join([AUDIENCE, *workers]),
    }
    processes = [start_function("canary", port, env, log_dir)]
    processes += [start_function("worker", p, env, log_dir) for p in ports]
    yield f"http://127.0.0.1:{port}", workers
    for process in processes:
        process.stop()


def test_a_check_delivered_to_two_workers_at_once_runs_once(
    canary_and_two_workers, fake, gh, identity
):
    canary_url, workers = canary_and_two_workers
    add_service(fake)
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    body = canary_body("web", "web-2", step_minutes=0.01)
    response = requests.post(f"{canary_url}/v1/canaries", json=body, headers=gh, timeout=30)
    assert response.status_code == 201, response.text
    canary_id = response.json()["id"]
    updates = len(fake.run.updates)
    time.sleep(1.1)  # check 1 is due interval_seconds after the start
    task = {"job_type": "canary_check", "job_id": canary_id, "organisation": "acme", "check": 1}
    token = identity.google_token(INTERNAL_EMAIL, AUDIENCE)
    headers = {"Authorization": f"Bearer {token}", "X-CloudTasks-TaskRetryCount": "0"}
    barrier = threading.Barrier(DELIVERIES)
    answers: list = [None] * DELIVERIES

    def deliver(index: int) -> None:
        barrier.wait()
        url = f"{workers[index % 2]}/tasks/run"
        answers[index] = requests.post(url, json=task, headers=headers, timeout=60)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert [a.json()["status"] for a in answers].count("ignored") == DELIVERIES - 1
    record = get(canary_url, canary_id, gh)
    assert [c["number"] for c in record["checks"]] == [1]
    assert record["traffic_percent"] == 50 and shares(fake) == {"web-1": 50, "web-2": 50}
    assert len(fake.run.updates) == updates + 1
