"""Background and scheduled deploys through the Cloud Tasks fake and a live worker."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.conftest import ADMIN_EMAIL, AUDIENCE
from tests.integration.packages.test_deploy import SHOP, make_package
from tests.support.packages import TASKS_ACCOUNT, seed, shop, snapshot
from tests.support.waiting import wait_for


def background(api, headers, package_id, **extra):
    body = {"environment": "staging", "run_as_background": True, "options": {}}
    body.update(extra)
    response = api.post(f"/v1/packages/{package_id}/deploy", headers=headers, json=body)
    assert response.status_code == 202, response.json
    return response.json


def job(api, headers, job_id):
    return api.get(f"/v1/jobs/{job_id}", headers=headers).json


def finished(api, headers, job_id, timeout=30):
    return wait_for(
        lambda: (
            (j := job(api, headers, job_id))["status"]
            in ("completed", "failed", "cancelled", "timeout")
            and j
        ),
        timeout,
    )


def test_background_deploy_runs_on_the_worker(api, headers, dev, staging, fake_apis):
    package = make_package(api, headers, dev)
    created = background(api, headers, package["id"])
    assert created["status"] in ("queued", "processing", "completed")
    done = finished(api, headers, created["job_id"])
    assert done["status"] == "completed", done
    assert done["job_type"] == "package_deployment"
    assert done["job_data"]["package_id"] == package["id"]
    assert done["job_data"]["environment"] == "staging"
    assert done["result"]["records_succeeded"] == 21
    assert done["started_at"] and done["completed_at"] and done["attempts"] == 1
    deployment = api.get(
        f"/v1/package-deployments/{done['result']['deployment_id']}", headers=headers
    ).json["deployment"]
    assert deployment["status"] == "completed" and deployment["job_id"] == created["job_id"]
    assert snapshot(staging, *SHOP) == snapshot(dev, *SHOP)
    [delivery] = [d for d in fake_apis.tasks.deliveries if d.ok]
    assert created["job_id"] in delivery.name
    assert json.loads(delivery.body)["job_id"] == created["job_id"]
    assert delivery.headers["Authorization"].startswith("Bearer ")


def test_a_deploy_that_fails_ends_the_job_failed(api, headers, dev, staging):
    data = shop(customers=1, orders_per_customer=1, items_per_order=1)
    data["orders"]["5"] = {"id": 5, "customer_id": 77, "total": 1}
    package = make_package(api, headers, dev, data=data)
    created = background(api, headers, package["id"], options={"validate_references": True})
    done = finished(api, headers, created["job_id"])
    assert done["status"] == "failed" and "customer_id" not in (done.get("result") or {})
    assert "failed" in done["error"]
    assert snapshot(staging, *SHOP) == {t: {} for t in SHOP}


def test_scheduled_job_runs_at_its_time_and_not_before(api, headers, dev, staging, fake_apis):
    package = make_package(api, headers, dev)
    at = datetime.now(UTC) + timedelta(seconds=3)
    created = background(
        api, headers, package["id"], run_as_background=False, schedule_at=at.isoformat()
    )
    [task] = fake_apis.tasks.pending()
    assert abs(task.schedule_time.timestamp() - at.timestamp()) < 0.01
    # Cloud Tasks waits for the whole run, not its default 10 minutes
    assert task.dispatch_deadline.total_seconds() == 1800
    time.sleep(0.5)
    assert job(api, headers, created["job_id"])["status"] == "queued"
    assert snapshot(staging, "customers") == {"customers": {}}
    done = finished(api, headers, created["job_id"])
    assert done["status"] == "completed"
    assert datetime.fromisoformat(done["started_at"].replace("Z", "+00:00")) >= at
    assert job(api, headers, created["job_id"])["scheduled_at"].startswith(
        at.strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_cancel_before_it_runs(api, headers, dev, staging, fake_apis):
    package = make_package(api, headers, dev)
    at = datetime.now(UTC) + timedelta(hours=1)
    created = background(api, headers, package["id"], schedule_at=at.isoformat())
    response = api.delete(f"/v1/jobs/{created['job_id']}", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert fake_apis.tasks.pending() == []
    assert job(api, headers, created["job_id"])["status"] == "cancelled"
    assert api.delete(f"/v1/jobs/{created['job_id']}", headers=headers).status_code == 409
    assert snapshot(staging, *SHOP) == {t: {} for t in SHOP}


def test_cancel_during_the_run_undoes_what_it_wrote(
    api, headers, dev, staging, fake_apis, monkeypatch
):
    from shared.jobs.runner import JobRun

    reached, release = threading.Event(), threading.Event()
    checkpoint = JobRun.checkpoint
    calls = []

    def held_checkpoint(self, batch):
        calls.append(1)
        if len(calls) == 4:  # three commits are written: hold the run until the cancel is in
            reached.set()
            release.wait(30)
        return checkpoint(self, batch)

    monkeypatch.setattr(JobRun, "checkpoint", held_checkpoint)
    rows = {str(n): {"id": n} for n in range(1, 601)}  # 30 groups of 20: 8 checkpoints
    package = make_package(api, headers, dev, data={"items": rows}, tables=["items"])
    seed(staging, "items", {"1": {"id": 1, "mine": True}})
    before = snapshot(staging, "items")
    created = background(
        api, headers, package["id"], options={"transaction_size": 20, "update_existing": True}
    )
    assert reached.wait(30)
    assert job(api, headers, created["job_id"])["status"] == "processing"
    assert len(snapshot(staging, "items")["items"]) > 40
    response = api.delete(f"/v1/jobs/{created['job_id']}", headers=headers)
    release.set()
    assert response.status_code in (200, 202), response.json
    done = finished(api, headers, created["job_id"])
    assert done["status"] == "cancelled", done
    assert snapshot(staging, "items") == before


def test_duplicate_delivery_deploys_once(api, headers, dev, staging, fake_apis):
    package = make_package(api, headers, dev)
    fake_apis.tasks.duplicate_next()
    created = background(api, headers, package["id"])
    done = finished(api, headers, created["job_id"])
    assert done["status"] == "completed" and done["attempts"] == 1
    fake_apis.tasks.wait_idle(10)
    assert len([d for d in fake_apis.tasks.deliveries if d.ok]) == 2
    deployments = api.get("/v1/package-deployments", headers=headers).json["deployments"]
    assert len(deployments) == 1
    assert snapshot(staging, *SHOP) == snapshot(dev, *SHOP)


def test_idempotency_key_enqueues_once(api, headers, dev, fake_apis):
    package = make_package(api, headers, dev)
    fake_apis.tasks.pause()
    key = {"Idempotency-Key": "release-42"}
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    first = background(api, {**headers, **key}, package["id"], schedule_at=at)
    second = background(api, {**headers, **key}, package["id"], schedule_at=at)
    assert first["job_id"] == second["job_id"]
    assert len(fake_apis.tasks.pending()) == 1


def test_worker_auth_and_bad_deliveries(stack, identity, internal_headers, google_headers):
    _, worker = stack
    url = f"{worker.url}/tasks/run"
    assert requests.post(url, json={"job_id": "x"}, timeout=5).status_code == 401
    admin = identity.google_token(ADMIN_EMAIL, AUDIENCE)
    assert (
        requests.post(
            url, json={"job_id": "x"}, timeout=5, headers={"Authorization": f"Bearer {admin}"}
        ).status_code
        == 403
    )
    tasks = identity.google_token(TASKS_ACCOUNT, AUDIENCE)
    auth = {"Authorization": f"Bearer {tasks}"}
    assert (
        requests.post(
            url, data="nonsense", timeout=5, headers={**auth, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert requests.post(url, json={}, timeout=5, headers=auth).status_code == 400
    unknown = requests.post(url, json={"job_id": "no-such-job"}, timeout=5, headers=auth)
    assert unknown.status_code == 404
    sweep = requests.post(f"{worker.url}/tasks/sweep", timeout=5, headers=auth)
    assert sweep.status_code == 200
    assert requests.post(f"{worker.url}/tasks/sweep", timeout=5).status_code == 401


def test_a_delivery_for_a_finished_job_does_nothing(api, headers, dev, stack, identity, fake_apis):
    package = make_package(api, headers, dev)
    created = background(api, headers, package["id"])
    finished(api, headers, created["job_id"])
    auth = {"Authorization": f"Bearer {identity.google_token(TASKS_ACCOUNT, AUDIENCE)}"}
    late = requests.post(
        f"{stack[1].url}/tasks/run",
        json={"job_id": created["job_id"]},
        headers={**auth, "X-CloudTasks-TaskRetryCount": "3"},
        timeout=10,
    )
    assert late.status_code == 200 and late.json()["status"] == "ignored"
    assert len(api.get("/v1/package-deployments", headers=headers).json["deployments"]) == 1


@pytest.mark.parametrize("fmt", ["json", "zip"])
def test_background_generation(api, headers, dev, fmt):
    package = make_package(api, headers, dev)
    response = api.post(
        f"/v1/packages/{package['id']}/generate",
        headers=headers,
        json={"format": fmt, "run_as_background": True},
    )
    assert response.status_code == 202
    done = finished(api, headers, response.json["job_id"])
    assert done["status"] == "completed" and done["job_type"] == "package_generation"
    assert done["result"]["checksum"] == package["checksum"]
    assert done["result"]["size_bytes"] > 0


def test_failures_retry_with_attempts_then_fail_after_the_last(stack, headers, project, fake_apis):
    from shared.config import Settings
    from shared.jobs.queue import JobQueue
    from shared.jobs.registry import REGISTRY
    from shared.store import firestore as fs
    from shared.store.jobs import JobStore

    api = stack[0]
    calls = {"flaky": 0, "broken": 0}

    def flaky(run):
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("transient")
        return {"ok": True, "attempt": run.attempt}

    def broken(run):
        calls["broken"] += 1
        raise RuntimeError("always")

    REGISTRY.stored("TEST_FLAKY", flaky)
    REGISTRY.stored("TEST_BROKEN", broken)
    try:
        queue = JobQueue(Settings.from_env(), JobStore(fs.client(project)))
        flaky_job, _ = queue.create("acme", "test_flaky", {}, None)
        broken_job, _ = queue.create("acme", "test_broken", {}, None)
        done = finished(api, headers, flaky_job["job_id"])
        assert done["status"] == "completed" and done["attempts"] == 2
        assert done["result"] == {"ok": True, "attempt": 2}
        failed = finished(api, headers, broken_job["job_id"])
        assert failed["status"] == "failed" and failed["attempts"] == fake_apis.tasks.max_attempts
        assert "always" in failed["error"]
        assert calls["broken"] == fake_apis.tasks.max_attempts
    finally:
        REGISTRY.remove("TEST_FLAKY")
        REGISTRY.remove("TEST_BROKEN")
