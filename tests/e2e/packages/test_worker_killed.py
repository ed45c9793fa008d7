"""A worker process killed (SIGKILL) in the middle of a deploy: retry or sweep recover it.

Real processes over HTTP: the packages and worker functions under functions-framework, the
Cloud Tasks fake delivering to the worker, the Firestore emulator with named databases.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import AUDIENCE, DEPLOYER_EMAIL
from tests.fakes.server import FakeGoogleApis
from tests.support.emulators import free_port, start_function
from tests.support.packages import database, seed, snapshot, stack_env
from tests.support.waiting import wait_for

ROWS = 3000


@pytest.fixture
def e2e(base_env, project, identity, log_dir, google_headers):
    fake = FakeGoogleApis(
        signer=identity.google_key.sign,
        min_backoff=0.2,
        max_backoff=1.0,
        max_attempts=50,
    )
    fake.start()
    worker_port, packages_port = free_port(), free_port()
    env = {**base_env, **stack_env(project, fake.address, worker_port, AUDIENCE, deadline=3)}
    processes = {"worker": start_function("worker", worker_port, env, log_dir)}
    processes["packages"] = start_function("packages", packages_port, env, log_dir)

    def restart_worker():
        processes["worker"] = start_function("worker", worker_port, env, log_dir)

    context = {
        "fake": fake,
        "processes": processes,
        "restart_worker": restart_worker,
        "packages": f"http://127.0.0.1:{packages_port}",
        "worker": f"http://127.0.0.1:{worker_port}",
        "headers": google_headers(DEPLOYER_EMAIL),
        "dev": database(project, "dev"),
        "staging": database(project, "staging"),
    }
    yield context
    fake.stop()
    for process in processes.values():
        process.kill()


def start_deploy(ctx, before_kill=None):
    dev, staging, headers = ctx["dev"], ctx["staging"], ctx["headers"]
    seed(dev, "items", {str(n): {"id": n, "v": "new"} for n in range(1, ROWS + 1)})
    seed(
        staging,
        "items",
        {"5": {"id": 5, "v": "old", "extra": 1}, "99999": {"id": 99999, "v": "unrelated"}},
    )
    before = snapshot(staging, "items")
    base = ctx["packages"]
    package = requests.post(
        f"{base}/v1/packages",
        headers=headers,
        timeout=60,
        json={
            "name": "items",
            "version": "1",
            "package_type": "database",
            "environment": "dev",
            "filter": {"tables": ["items"]},
        },
    ).json()["package"]
    created = requests.post(
        f"{base}/v1/packages/{package['id']}/deploy",
        headers=headers,
        timeout=30,
        json={
            "environment": "staging",
            "run_as_background": True,
            "options": {"update_existing": True, "transaction_size": 10},
        },
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    job = get_job(ctx, job_id)
    deployment_id = job["job_data"]["deployment_id"]

    def halfway():
        response = requests.get(
            f"{base}/v1/package-deployments/{deployment_id}", headers=headers, timeout=10
        )
        return (
            response.status_code == 200
            and 300 < response.json()["deployment"]["records_processed"] < ROWS - 500
        )

    wait_for(halfway, timeout=60, interval=0.02)
    if before_kill:
        before_kill()
    ctx["processes"]["worker"].kill()  # SIGKILL to the process group
    written = snapshot(staging, "items")["items"]
    # Processed counts run a little ahead of committed writes; half-way is all that matters.
    assert len(before["items"]) < len(written) < ROWS, "the kill should land half-way"
    return job_id, deployment_id, before


def get_job(ctx, job_id):
    response = requests.get(
        f"{ctx['packages']}/v1/jobs/{job_id}", headers=ctx["headers"], timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def expected_after(before):
    items = {str(n): {"id": n, "v": "new"} for n in range(1, ROWS + 1)}
    items["5"]["extra"] = 1
    items["99999"] = before["items"]["99999"]
    return {"items": items}


def test_killed_worker_is_recovered_by_the_retry(e2e):
    job_id, deployment_id, before = start_deploy(e2e)
    e2e["restart_worker"]()
    job = wait_for(
        lambda: (j := get_job(e2e, job_id))["status"] in ("completed", "failed") and j,
        timeout=90,
        interval=0.2,
    )
    assert job["status"] == "completed", job
    assert job["attempts"] >= 2
    assert job["result"]["records_succeeded"] == ROWS
    # nothing lost, nothing doubled: exactly one full deploy over what was there
    assert snapshot(e2e["staging"], "items") == expected_after(before)
    deployments = requests.get(
        f"{e2e['packages']}/v1/package-deployments", headers=e2e["headers"], timeout=10
    ).json()["deployments"]
    assert [d["id"] for d in deployments] == [deployment_id]
    assert deployments[0]["status"] == "completed"


def test_killed_worker_is_recovered_by_the_sweep(e2e, internal_headers):
    # no retry arrives after the kill: only the sweep can notice
    job_id, deployment_id, before = start_deploy(e2e, before_kill=e2e["fake"].tasks.pause)
    e2e["restart_worker"]()
    sweep = f"{e2e['worker']}/tasks/sweep"

    def swept():
        response = requests.post(sweep, headers=internal_headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["timed_out"]

    wait_for(swept, timeout=30, interval=0.5)
    job = get_job(e2e, job_id)
    assert job["status"] == "timeout"
    assert snapshot(e2e["staging"], "items") == before
    deployment = requests.get(
        f"{e2e['packages']}/v1/package-deployments/{deployment_id}",
        headers=e2e["headers"],
        timeout=10,
    ).json()["deployment"]
    assert deployment["status"] == "failed" and deployment["is_active"] is False
    # a late delivery of the timed-out job does nothing
    e2e["fake"].tasks.resume()
    assert e2e["fake"].tasks.wait_idle(30)
    assert get_job(e2e, job_id)["status"] == "timeout"
    assert snapshot(e2e["staging"], "items") == before
