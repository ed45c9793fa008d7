"""Canary checks are jobs the worker runs: sent to WORKER_URL whatever it is named, each check
run once however many deliveries of its task arrive at the same moment."""

from __future__ import annotations

import os
import time

import pytest
import requests

from tests.conftest import AUDIENCE, INTERNAL_EMAIL, make_client
from tests.integration.canary.test_canary_api import start, traffic
from tests.integration.packages.test_job_deliveries import at_once
from tests.support.canary import Traffic, install
from tests.support.emulators import free_port
from tests.support.packages import AppServer
from tests.support.waiting import wait_for

QUEUE = "projects/deployq-test/locations/europe-west1/queues/deployq"


@pytest.fixture
def with_worker(canary_env, fake):
    """The canary function (test client) and a worker served on a loopback URL that does not
    contain the word "worker"; Cloud Tasks delivers check jobs to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "TASKS_QUEUE": QUEUE,
            "TASKS_SERVICE_ACCOUNT": INTERNAL_EMAIL,
            "WORKER_URL": f"{url}/tasks/run",
            "GOOGLE_ID_TOKEN_AUDIENCES": f"{AUDIENCE},{url}",
        }
    )
    worker = AppServer("worker", port)
    yield make_client("canary"), url
    fake.tasks.pause()
    fake.tasks.wait_idle(10)
    worker.close()


def get(client, canary_id, headers):
    return client.get(f"/v1/canaries/{canary_id}", headers=headers).get_json()


def test_check_jobs_alone_walk_a_canary_to_promotion(with_worker, fake, service, gh):
    canaries, worker = with_worker
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    fake.tasks.duplicate_next(3, together=True)
    canary = start(canaries, gh, step_minutes=0.01).get_json()
    record = wait_for(
        lambda: (r := get(canaries, canary["id"], gh))["status"] == "promoted" and r,
        timeout=30,
        interval=0.2,
        what="promotion through check jobs",
    )
    assert traffic(fake) == {"web-2": 100}
    numbers = [c["number"] for c in record["checks"]]
    assert numbers == list(range(1, len(numbers) + 1))
    delivered = [d for d in fake.tasks.deliveries if d.ok]
    assert delivered and all(d.url == f"{worker}/tasks/run" for d in delivered)
    assert any(f"{canary['id']}-check-1" in d.name for d in delivered)
    assert any(d.duplicate for d in fake.tasks.deliveries)
    # one traffic change per step at most: 10 at the start, 50, then 100
    assert [c["traffic_percent"] for c in record["checks"] if c["action"] != "none"] == [50, 100]


def test_concurrent_deliveries_of_a_check_record_one_check_and_one_step(
    with_worker, fake, service, gh, identity
):
    canaries, worker = with_worker
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    fake.tasks.pause()  # the deliveries below are the only ones
    canary = start(canaries, gh, step_minutes=0.01).get_json()
    updates = len(fake.run.updates)
    wait_for(lambda: get(canaries, canary["id"], gh)["next_check_at"] is not None, timeout=5)
    time.sleep(1.1)  # the first check is due interval_seconds after the start
    body = {"job_type": "canary_check", "job_id": canary["id"], "organisation": "acme", "check": 1}
    token = identity.google_token(INTERNAL_EMAIL, AUDIENCE)
    headers = {"Authorization": f"Bearer {token}", "X-CloudTasks-TaskRetryCount": "0"}
    answers = at_once(f"{worker}/tasks/run", body, headers)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers).count("ignored") == len(answers) - 1
    record = get(canaries, canary["id"], gh)
    assert [c["number"] for c in record["checks"]] == [1]
    assert record["checks"][0]["action"] == "advance" and record["traffic_percent"] == 50
    assert len(fake.run.updates) == updates + 1
    late = requests.post(f"{worker}/tasks/run", json=body, headers=headers, timeout=10)
    assert late.status_code == 200 and late.json()["status"] == "ignored"
    unknown = dict(body, job_id="00000000-0000-4000-8000-000000000000")
    missing = requests.post(f"{worker}/tasks/run", json=unknown, headers=headers, timeout=10)
    assert missing.status_code == 404 and set(missing.json()) == {"error", "code", "details"}
