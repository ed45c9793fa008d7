"""Two worker processes get the same delivery at the same moment: the job runs once."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.conftest import AUDIENCE, DEPLOYER_EMAIL
from tests.fakes.server import FakeGoogleApis
from tests.support.emulators import free_port, start_function
from tests.support.packages import TASKS_ACCOUNT, database, seed, snapshot, stack_env
from tests.support.waiting import wait_for

ROWS = 20
DELIVERIES = 6


@pytest.fixture
def two_workers(base_env, project, identity, log_dir, google_headers):
    with FakeGoogleApis(signer=identity.google_key.sign) as fake:
        fake.tasks.pause()  # the deliveries of the tests are the only ones
        ports = [free_port(), free_port()]
        packages_port = free_port()
        env = {**base_env, **stack_env(project, fake.address, ports[0], AUDIENCE)}
        workers = [f"http://127.0.0.1:{port}" for port in ports]
        env["GOOGLE_ID_TOKEN_AUDIENCES"] = ",".join([AUDIENCE, *workers])
        processes = [start_function("worker", port, env, log_dir) for port in ports]
        processes.append(start_function("packages", packages_port, env, log_dir))
        token = identity.google_token(TASKS_ACCOUNT, AUDIENCE)
        yield {
            "packages": f"http://127.0.0.1:{packages_port}",
            "workers": workers,
            "headers": google_headers(DEPLOYER_EMAIL),
            "task_headers": {
                "Authorization": f"Bearer {token}",
                "X-CloudTasks-TaskRetryCount": "0",
            },
            "dev": database(project, "dev"),
            "staging": database(project, "staging"),
        }
        for process in processes:
            process.kill()


def deliver_to_both(ctx, body) -> list[requests.Response]:
    """DELIVERIES copies of one delivery, half to each worker, released at the same moment."""
    barrier = threading.Barrier(DELIVERIES)
    answers: list = [None] * DELIVERIES

    def deliver(index: int) -> None:
        url = f"{ctx['workers'][index % 2]}/tasks/run"
        barrier.wait()
        answers[index] = requests.post(url, json=body, headers=ctx["task_headers"], timeout=60)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def post(ctx, path, body):
    return requests.post(f"{ctx['packages']}{path}", json=body, headers=ctx["headers"], timeout=60)


def make_package(ctx):
    rows = {str(n): {"id": n, "v": f"new {n}"} for n in range(1, ROWS + 1)}
    seed(ctx["dev"], "items", rows)
    seed(ctx["staging"], "items", {str(n): {"id": n, "v": "theirs"} for n in range(1, ROWS + 1)})
    response = post(
        ctx,
        "/v1/packages",
        {
            "name": "items",
            "version": "1",
            "package_type": "database",
            "environment": "dev",
            "filter": {"tables": ["items"]},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["package"]


def job(ctx, job_id):
    url = f"{ctx['packages']}/v1/jobs/{job_id}"
    return requests.get(url, headers=ctx["headers"], timeout=10).json()


def test_a_deploy_job_delivered_to_two_workers_at_once_deploys_once(two_workers):
    ctx = two_workers
    package = make_package(ctx)
    created = post(
        ctx,
        f"/v1/packages/{package['id']}/deploy",
        {"environment": "staging", "run_as_background": True},
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    answers = deliver_to_both(ctx, {"job_id": job_id, "organisation": "acme"})
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["completed"] + ["ignored"] * (DELIVERIES - 1)
    done = wait_for(lambda: (j := job(ctx, job_id))["status"] == "completed" and j, timeout=30)
    assert done["attempts"] == 1
    # 20 rows whose keys were taken: 20 new rows next to the 20 that were there
    assert len(snapshot(ctx["staging"], "items")["items"]) == 2 * ROWS


def test_a_generation_job_delivered_to_two_workers_at_once_generates_once(two_workers):
    ctx = two_workers
    package = make_package(ctx)
    created = post(
        ctx, f"/v1/packages/{package['id']}/generate", {"format": "zip", "run_as_background": True}
    )
    assert created.status_code == 202, created.text
    answers = deliver_to_both(ctx, {"job_id": created.json()["job_id"]})
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["completed"] + ["ignored"] * (DELIVERIES - 1)
    url = f"{ctx['packages']}/v1/packages/{package['id']}/actions"
    actions = requests.get(url, headers=ctx["headers"], timeout=10).json()["actions"]
    assert [a["action_type"] for a in actions].count("generate") == 1
