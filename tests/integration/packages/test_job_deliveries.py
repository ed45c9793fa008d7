"""A job runs once whatever the deliveries: duplicates arriving at the same moment, through the
worker directly and through the Cloud Tasks fake; an unknown job is a 404 error envelope."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.conftest import AUDIENCE
from tests.integration.packages.test_deploy import make_package
from tests.integration.packages.test_jobs import background, finished
from tests.support.packages import TASKS_ACCOUNT, seed, snapshot

ROWS = 20
DELIVERIES = 6


def items_package(api, headers, dev, staging):
    """20 rows whose keys are all taken in staging: every row is written under a new key."""
    rows = {str(n): {"id": n, "v": f"new {n}"} for n in range(1, ROWS + 1)}
    seed(staging, "items", {str(n): {"id": n, "v": "theirs"} for n in range(1, ROWS + 1)})
    return make_package(api, headers, dev, data={"items": rows}, tables=["items"])


def at_once(url: str, body: dict, headers: dict, count: int = DELIVERIES) -> list:
    """`count` deliveries of one task (same attempt) released at the same moment."""
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def deliver(index: int) -> None:
        barrier.wait()
        answers[index] = requests.post(url, json=body, headers=headers, timeout=60)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def task_headers(identity) -> dict[str, str]:
    token = identity.google_token(TASKS_ACCOUNT, AUDIENCE)
    return {"Authorization": f"Bearer {token}", "X-CloudTasks-TaskRetryCount": "0"}


def test_concurrent_deliveries_of_a_deploy_job_deploy_once(
    api, headers, dev, staging, stack, identity, fake_apis
):
    package = items_package(api, headers, dev, staging)
    fake_apis.tasks.pause()  # the deliveries below are the only ones
    created = background(api, headers, package["id"])
    body = {"job_id": created["job_id"], "organisation": "acme"}
    answers = at_once(f"{stack[1].url}/tasks/run", body, task_headers(identity))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["completed"] + ["ignored"] * (DELIVERIES - 1)
    job = finished(api, headers, created["job_id"])
    assert job["status"] == "completed" and job["attempts"] == 1
    assert len(job["result"]["pk_mapping_result"]["items"]) == ROWS
    assert len(snapshot(staging, "items")["items"]) == 2 * ROWS
    deployments = api.get("/v1/package-deployments", headers=headers).json["deployments"]
    assert len(deployments) == 1


def test_concurrent_deliveries_of_a_generation_job_generate_once(
    api, headers, dev, stack, identity, fake_apis
):
    package = make_package(api, headers, dev)
    fake_apis.tasks.pause()
    response = api.post(
        f"/v1/packages/{package['id']}/generate",
        headers=headers,
        json={"format": "json", "run_as_background": True},
    )
    assert response.status_code == 202
    body = {"job_id": response.json["job_id"]}  # without organisation: found by id
    answers = at_once(f"{stack[1].url}/tasks/run", body, task_headers(identity))
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["completed"] + ["ignored"] * (DELIVERIES - 1)
    actions = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json["actions"]
    assert [a["action_type"] for a in actions].count("generate") == 1


def test_a_duplicate_delivered_by_cloud_tasks_at_the_same_moment_deploys_once(
    api, headers, dev, staging, fake_apis
):
    package = items_package(api, headers, dev, staging)
    fake_apis.tasks.duplicate_next(1, together=True)
    created = background(api, headers, package["id"])
    job = finished(api, headers, created["job_id"])
    assert fake_apis.tasks.wait_idle(10)
    assert job["status"] == "completed" and job["attempts"] == 1
    delivered = [d for d in fake_apis.tasks.deliveries if created["job_id"] in d.name]
    assert len(delivered) == 2 and all(d.ok for d in delivered)
    assert len(snapshot(staging, "items")["items"]) == 2 * ROWS


@pytest.mark.parametrize(
    "body",
    [
        {"job_id": "no-such-job"},
        {"job_id": "00000000-0000-4000-8000-000000000000"},
        {"job_id": "00000000-0000-4000-8000-000000000000", "organisation": "acme"},
    ],
)
def test_an_unknown_job_is_a_404_error_envelope(stack, identity, body):
    answer = requests.post(
        f"{stack[1].url}/tasks/run", json=body, headers=task_headers(identity), timeout=10
    )
    assert answer.status_code == 404
    envelope = answer.json()
    assert set(envelope) == {"error", "code", "details"}
    assert envelope["code"] == "job_not_found" and "not found" in envelope["error"]


def test_every_4xx_of_the_worker_is_the_error_envelope(stack, identity):
    url = f"{stack[1].url}/tasks/run"
    auth = task_headers(identity)
    answers = [
        requests.post(url, json={"job_id": "x"}, timeout=10),
        requests.post(url, json={}, headers=auth, timeout=10),
        requests.post(url, data="nonsense", headers={**auth, "Content-Type": "text/plain"}),
        requests.post(url, json={"job_id": "x", "check": 0}, headers=auth, timeout=10),
        requests.get(url, headers=auth, timeout=10),
    ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        assert set(answer.json()) == {"error", "code", "details"}, answer.text


def test_a_takeover_never_overlaps_the_attempt_it_replaces(
    api, headers, dev, staging, stack, identity, fake_apis, monkeypatch
):
    """Attempt 1 stalls between reading the job and committing its progress; attempt 2
    takes the silent job over and deploys; attempt 1's commit is then refused, so it
    writes nothing more to the target."""
    from datetime import timedelta

    from shared import clock
    from shared.packages.writer import JournalWriter
    from shared.store.jobs import JobStore

    rows = {str(n): {"id": n, "v": f"new {n}"} for n in range(1, 201)}
    seed(staging, "items", {str(n): {"id": n, "v": "theirs"} for n in range(1, 201)})
    package = make_package(api, headers, dev, data={"items": rows}, tables=["items"])
    reached, release = threading.Event(), threading.Event()
    calls = {"n": 0}
    record_progress = JobStore.record_progress

    def stalled(self, batch, org, job_id, attempt):
        why = record_progress(self, batch, org, job_id, attempt)
        if attempt == 1:
            calls["n"] += 1
            if calls["n"] == 2:  # one set of groups is written; the next one is journalled
                reached.set()
                release.wait(30)
        return why

    late_writes: list[int] = []
    write_target = JournalWriter._write_target

    def watched(self, writes):
        if release.is_set() and self.checkpoint.__self__.attempt == 1:
            late_writes.append(len(writes))
        return write_target(self, writes)

    monkeypatch.setattr(JobStore, "record_progress", stalled)
    monkeypatch.setattr(JournalWriter, "_write_target", watched)
    fake_apis.tasks.pause()
    created = background(api, headers, package["id"], options={"transaction_size": 20})
    body = {"job_id": created["job_id"], "organisation": "acme"}
    url = f"{stack[1].url}/tasks/run"
    first: dict = {}

    def attempt_one():
        first["answer"] = requests.post(url, json=body, headers=task_headers(identity), timeout=60)

    thread = threading.Thread(target=attempt_one)
    thread.start()
    assert reached.wait(30)
    real_now = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real_now() + timedelta(seconds=121))
    second = requests.post(
        url, json=body, headers={**task_headers(identity), "X-CloudTasks-TaskRetryCount": "1"}
    )
    assert second.status_code == 200 and second.json()["status"] == "completed", second.text
    release.set()
    thread.join(30)
    assert first["answer"].status_code == 200
    assert first["answer"].json()["status"] == "superseded"
    assert late_writes == []
    job = api.get(f"/v1/jobs/{created['job_id']}", headers=headers).json
    assert job["status"] == "completed" and job["attempts"] == 2
    assert len(snapshot(staging, "items")["items"]) == 400
