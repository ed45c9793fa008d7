"""A deploy whose process stops half-way is finished (undone) by the sweep; jobs time out."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from shared.config import Settings
from shared.packages.service import Packages
from tests.conftest import make_client
from tests.integration.packages.test_deploy import make_package
from tests.support.packages import seed, snapshot

STUCK_JOB = "5d6f0d3e-0000-4000-8000-000000000001"


class ProcessDied(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in the engine catches it."""


def half_deploy(project, package, flushes_before_death=1):
    service = Packages(Settings.from_env())
    package = service.store.get_package("acme", package["id"])
    options = {
        "skip_existing": False,
        "update_existing": True,
        "validate_references": False,
        "create_missing": False,
        "batch_size": 100,
        "transaction_size": 20,
        "continue_on_error": False,
        "dry_run": False,
    }
    record = service.deployments.new_deployment(package, "staging", options, "tester", None, None)
    service.store.create_deployment("acme", record)
    calls = {"n": 0}

    def checkpoint(batch):
        calls["n"] += 1
        if calls["n"] > flushes_before_death:
            raise ProcessDied()

    with pytest.raises(ProcessDied):
        service.deployments.run_deploy("acme", package, record, options, checkpoint)
    return service, record


def test_sweep_undoes_a_deploy_left_running(
    api, headers, dev, staging, project, internal_headers, monkeypatch
):
    from shared import clock

    rows = {str(n): {"id": n, "v": "new"} for n in range(1, 201)}
    package = make_package(api, headers, dev, data={"items": rows}, tables=["items"])
    seed(staging, "items", {"5": {"id": 5, "v": "old"}, "500": {"id": 500, "v": "other"}})
    before = snapshot(staging, "items")
    service, record = half_deploy(project, package)
    assert snapshot(staging, "items") != before  # the first journalled groups were written
    assert service.store.get_deployment("acme", record["id"])["status"] == "running"

    os.environ["JOB_DEADLINE_SECONDS"] = "60"
    worker = make_client("worker")
    # not yet stale: nothing happens
    assert worker.post("/tasks/sweep", headers=internal_headers).json["recovered"] == 0
    real_now = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real_now() + timedelta(seconds=61))
    response = worker.post("/tasks/sweep", headers=internal_headers)
    assert response.status_code == 200 and response.json["recovered"] == 1
    assert snapshot(staging, "items") == before
    deployment = api.get(f"/v1/package-deployments/{record['id']}", headers=headers).json
    assert deployment["deployment"]["status"] == "failed"
    assert worker.post("/tasks/sweep", headers=internal_headers).json["recovered"] == 0


def test_sweep_times_out_a_stuck_job_and_undoes_it(
    api, headers, dev, staging, project, internal_headers, fake_apis
):
    from shared.store import firestore as fs
    from shared.store.jobs import JobStore

    rows = {str(n): {"id": n} for n in range(1, 201)}
    package = make_package(api, headers, dev, data={"items": rows}, tables=["items"])
    before = snapshot(staging, "items")
    service, record = half_deploy(project, package)
    # a job held by that dead process
    jobs = JobStore(fs.client(project))
    stamp = "2020-01-01T00:00:00.000000Z"
    jobs.create(
        "acme",
        {
            "job_id": STUCK_JOB,
            "organisation": "acme",
            "job_type": "package_deployment",
            "status": "processing",
            "delivery": 1,
            "attempts": 1,
            "progress_at": stamp,
            "scheduled_at": stamp,
            "created_at": stamp,
            "started_at": stamp,
            "job_data": {"deployment_id": record["id"]},
        },
    )
    service.store.update_deployment(
        "acme", record["id"], {"job_id": STUCK_JOB, "progress_at": stamp}
    )
    os.environ["JOB_DEADLINE_SECONDS"] = "1"
    worker = make_client("worker")
    response = worker.post("/tasks/sweep", headers=internal_headers)
    assert response.json["timed_out"] == 1 and response.json["recovered"] == 1
    job = api.get(f"/v1/jobs/{STUCK_JOB}", headers=headers).json
    assert job["status"] == "timeout" and "no progress" in job["error"]
    assert snapshot(staging, "items") == before
    assert api.delete(f"/v1/jobs/{STUCK_JOB}", headers=headers).status_code == 409
