"""Canary rollouts end to end: the function as a process, checks delivered by Cloud Tasks."""

from __future__ import annotations

import time

import requests

from tests.support.canary import PROJECT, REGION, Traffic, canary_body, install
from tests.support.waiting import wait_for


def get(url, canary_id, headers):
    return requests.get(f"{url}/v1/canaries/{canary_id}", headers=headers, timeout=10).json()


def shares(fake):
    return {
        t["revision"]: t["percent"]
        for t in fake.run.service(PROJECT, REGION, "web")["traffic"]
        if t["percent"]
    }


def add_service(fake):
    fake.run.add_service(
        PROJECT,
        REGION,
        "web",
        revisions=["web-1", "web-2"],
        traffic=[{"revision": "web-1", "percent": 100}],
    )


def test_tasks_alone_walk_a_healthy_canary_to_promotion(canary_url, fake, gh):
    add_service(fake)
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    fake.tasks.duplicate_next(2)
    response = requests.post(
        f"{canary_url}/v1/canaries", json=canary_body("web", "web-2"), headers=gh, timeout=30
    )
    assert response.status_code == 201, response.text
    canary_id = response.json()["id"]
    record = wait_for(
        lambda: (r := get(canary_url, canary_id, gh))["status"] == "promoted" and r,
        timeout=30,
        interval=0.2,
        what="promotion through tasks",
    )
    assert shares(fake) == {"web-2": 100}
    numbers = [c["number"] for c in record["checks"]]
    assert numbers == list(range(1, len(numbers) + 1))
    delivered = [d for d in fake.tasks.deliveries if d.ok]
    assert any(d.duplicate for d in fake.tasks.deliveries)
    assert all(d.url.endswith("/tasks/run") for d in delivered)
    assert any(f"{canary_id}-check-1" in d.name for d in delivered)


def test_a_lost_task_is_caught_up_by_the_sweep(canary_url, fake, gh, internal_headers, identity):
    add_service(fake)
    load = Traffic(fake, "web", "web-2", "web-1")
    load.canary_at[50] = {"errors_pct": 10.0}
    install(fake, load)
    fake.tasks.drop_next(1)  # the task of check 1 never arrives
    response = requests.post(
        f"{canary_url}/v1/canaries", json=canary_body("web", "web-2"), headers=gh, timeout=30
    )
    canary_id = response.json()["id"]
    time.sleep(1.5)  # check 1 was due after 1 s; its task was lost
    assert get(canary_url, canary_id, gh)["check_count"] == 0
    swept = requests.post(f"{canary_url}/v1/canaries:sweep", headers=internal_headers, timeout=30)
    assert swept.status_code == 200 and swept.json() == {"checked": 1}
    record = wait_for(
        lambda: (r := get(canary_url, canary_id, gh))["status"] == "rolled_back" and r,
        timeout=30,
        interval=0.2,
        what="rollback at step 2",
    )
    assert shares(fake) == {"web-1": 100}
    assert "error rate 10% > 1%" in record["reason"]
    advanced = next(c for c in record["checks"] if c["action"] == "advance")
    assert record["checks"][-1]["number"] == advanced["number"] + 1


def test_monitoring_outage_holds_then_rolls_back_through_tasks(canary_url, fake, gh):
    add_service(fake)
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    body = canary_body("web", "web-2", step_minutes=0.01, consecutive_error_limit=3)
    fake.monitoring.fail_all(True)
    response = requests.post(f"{canary_url}/v1/canaries", json=body, headers=gh, timeout=30)
    canary_id = response.json()["id"]
    record = wait_for(
        lambda: (r := get(canary_url, canary_id, gh))["status"] == "rolled_back" and r,
        timeout=30,
        interval=0.2,
        what="rollback after the Monitoring outage",
    )
    assert [c["verdict"] for c in record["checks"]] == ["Inconclusive"] * 3
    assert [c["action"] for c in record["checks"]] == ["none", "none", "rollback"]
    assert "Cloud Monitoring unavailable for 3 consecutive checks" in record["reason"]
    assert shares(fake) == {"web-1": 100}
    fake.monitoring.fail_all(False)
