"""The canary function through its HTTP API, against the Firestore emulator and the gRPC fake."""

from __future__ import annotations

import pytest

from tests.support.canary import PROJECT, REGION, Traffic, canary_body, install
from tests.support.openapi import unresolved_refs
from tests.support.waiting import wait_for

FINAL = {"promoted", "rolled_back", "aborted", "failed"}


def start(client, headers, **changes):
    body = canary_body("web", "web-2", **changes)
    return client.post("/v1/canaries", json=body, headers=headers)


def sweep_until(client, internal_headers, canary_id, headers, statuses, timeout=20.0):
    def done():
        assert client.post("/v1/canaries:sweep", headers=internal_headers).status_code == 200
        record = client.get(f"/v1/canaries/{canary_id}", headers=headers).get_json()
        if record["status"] not in statuses and record["status"] in FINAL:
            raise AssertionError(f"ended {record['status']}: {record['reason']}")
        return record if record["status"] in statuses else None

    return wait_for(done, timeout, interval=0.2, what=f"status in {statuses}")


def traffic(fake, service="web"):
    return {
        t["revision"]: t["percent"]
        for t in fake.run.service(PROJECT, REGION, service)["traffic"]
        if t["percent"]
    }


def test_health_and_openapi(canaries):
    assert canaries.get("/health").get_json() == {"status": "healthy"}
    spec = canaries.get("/openapi.json").get_json()
    assert unresolved_refs(spec) == []
    paths = spec["paths"]
    assert "/v1/canaries/{canary_id}/promote" in paths and "/v1/canaries:sweep" in paths


def test_healthy_canary_walks_every_step_and_is_promoted(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    response = start(canaries, gh)
    assert response.status_code == 201, response.get_json()
    canary = response.get_json()
    assert canary["status"] == "progressing" and canary["strategy"] == "canary"
    assert canary["stable_revision"] == "web-1" and canary["traffic_percent"] == 10
    assert traffic(fake) == {"web-1": 90, "web-2": 10}
    seen = set()

    def promoted():
        canaries.post("/v1/canaries:sweep", headers=internal_headers)
        seen.add(traffic(fake).get("web-2"))
        record = canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()
        return record if record["status"] == "promoted" else None

    record = wait_for(promoted, 20, interval=0.2, what="promotion")
    assert {10, 50, 100} <= seen
    assert traffic(fake) == {"web-2": 100}
    assert "healthy through every step" in record["reason"]
    checks = record["checks"]
    assert [c["number"] for c in checks] == list(range(1, len(checks) + 1))
    last = checks[-1]
    assert last["verdict"] == "Healthy" and last["action"] == "promote"
    assert last["request_count"] == 200 and last["error_rate_pct"] == 0
    assert last["p95_ms"] == pytest.approx(80, rel=0.4) and last["p99_ms"] is not None
    assert last["stable"]["request_count"] == 2000
    assert last["window"]["start"] < last["window"]["end"] == last["at"]
    for earlier, later in zip(checks, checks[1:], strict=False):
        assert later["window"]["start"] <= earlier["at"]
    written = {w["metric_type"] for w in fake.monitoring.written}
    assert "custom.googleapis.com/deployq/canary_rollouts_started" in written
    assert "custom.googleapis.com/deployq/canary_rollouts_succeeded" in written
    assert "custom.googleapis.com/deployq/canary_traffic_percent" in written
    shares = [
        w for w in fake.monitoring.written if w["metric_type"].endswith("/canary_traffic_percent")
    ]
    assert [w["value"] for w in shares] == [10, 50, 100]
    assert shares[0]["metric_labels"] == {
        "organisation": "acme",
        "service": "web",
        "environment": "",
    }
    assert all(
        w["metric_kind"] == "GAUGE" and w["resource_type"] == "global"
        for w in fake.monitoring.written
    )
    assert fake.run.deleted_revisions == []


def create_deployment(deployments, headers, version="2.0.0", environment="production"):
    body = {
        "name": "web",
        "version": version,
        "provider": "gcp",
        "type": "k8s",
        "cloud_account_id": PROJECT,
        "region": REGION,
        "environment": environment,
        "notes": "built by the release pipeline",
    }
    response = deployments.post("/v1/deployments", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_error_spike_at_step_two_rolls_back_within_one_check(
    canaries, deployments, fake, service, gh, internal_headers
):
    load = Traffic(fake, "web", "web-2", "web-1")
    load.canary_at[50] = {"errors_pct": 20.0}
    install(fake, load)
    deployment = create_deployment(deployments, gh)
    canary = start(canaries, gh, deployment_id=deployment["id"]).get_json()
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"rolled_back"})
    assert traffic(fake) == {"web-1": 100}
    assert fake.run.deleted_revisions == ["web-2"]
    checks = record["checks"]
    advanced = next(c for c in checks if c["action"] == "advance")
    rollback = checks[-1]
    assert rollback["number"] == advanced["number"] + 1
    assert rollback["verdict"] == "Unhealthy" and rollback["action"] == "rollback"
    assert rollback["error_rate_pct"] == pytest.approx(20.0)
    assert "error rate 20% > 1%" in rollback["reason"]
    assert "error rate 20% > 1%" in record["reason"] and "rolled back" in record["reason"]
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "failed" and "error rate 20% > 1%" in linked["notes"]
    assert "built by the release pipeline" in linked["notes"]
    # A later sweep never re-rolls it out, and the same revision cannot start again.
    before = len(fake.run.updates)
    canaries.post("/v1/canaries:sweep", headers=internal_headers)
    assert len(fake.run.updates) == before
    fake.run.add_revision(PROJECT, REGION, "web", "web-2")
    again = start(canaries, gh)
    assert again.status_code == 409 and again.get_json()["code"] == "revision_rejected"
    written = {w["metric_type"] for w in fake.monitoring.written}
    assert "custom.googleapis.com/deployq/canary_rollouts_rolled_back" in written


def test_monitoring_outage_holds_then_rolls_back_after_the_limit(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, consecutive_error_limit=3, step_minutes=0.01).get_json()
    fake.monitoring.fail_all(True)
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"rolled_back"})
    checks = record["checks"]
    assert len(checks) == 3
    assert all(c["verdict"] == "Inconclusive" for c in checks)
    assert all("Cloud Monitoring query failed" in c["reason"] for c in checks)
    assert [c["traffic_percent"] for c in checks[:2]] == [10, 10]
    assert "Cloud Monitoring unavailable for 3 consecutive checks" in record["reason"]
    canary_shares = [
        t["percent"] for u in fake.run.updates for t in u["traffic"] if t["revision"] == "web-2"
    ]
    assert max(canary_shares) == 10
    assert traffic(fake) == {"web-1": 100}


def test_monitoring_recovering_resets_the_error_count(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, consecutive_error_limit=2, steps=[10]).get_json()
    fake.monitoring.fail_next(1)  # the first check's first query
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"promoted"})
    assert record["checks"][0]["verdict"] == "Inconclusive"
    assert record["checks"][-1]["verdict"] == "Healthy"


@pytest.mark.parametrize("on_no_data, status", [("rollback", "rolled_back"), ("hold", "held")])
def test_no_data_until_the_end_is_never_promoted(
    canaries, fake, service, gh, internal_headers, on_no_data, status
):
    load = Traffic(fake, "web", "web-2", "web-1")
    load.canary_profile["requests"] = 5
    install(fake, load)
    canary = start(canaries, gh, steps=[10], on_no_data=on_no_data).get_json()
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {status})
    assert all(c["verdict"] == "Inconclusive" for c in record["checks"])
    assert "no data" in record["reason"] and f"on_no_data={on_no_data}" in record["reason"]
    expected = {"web-1": 100} if status == "rolled_back" else {"web-1": 90, "web-2": 10}
    assert traffic(fake) == expected
    if status == "held":
        updates = len(fake.run.updates)
        canaries.post("/v1/canaries:sweep", headers=internal_headers)
        assert len(fake.run.updates) == updates
        promoted = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh)
        assert promoted.status_code == 200 and promoted.get_json()["status"] == "promoted"
        assert traffic(fake) == {"web-2": 100}


def test_compare_to_stable_rolls_back_a_canary_slower_than_live_traffic(
    canaries, fake, service, gh, internal_headers
):
    load = Traffic(fake, "web", "web-2", "web-1")
    load.canary_profile["latency_ms"] = 900  # under the fixed 2000 ms, 9x the stable
    load.stable_profile["latency_ms"] = 100
    install(fake, load)
    canary = start(canaries, gh, compare_to_stable={"p99_margin_pct": 50}).get_json()
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"rolled_back"})
    assert "stable" in record["checks"][-1]["reason"] and "p99" in record["reason"]


def test_a_concurrent_change_holds_the_canary_and_is_not_clobbered(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, steps=[10, 50]).get_json()
    fake.run.external_update(
        PROJECT,
        REGION,
        "web",
        traffic=[{"revision": "web-1", "percent": 70}, {"revision": "web-2", "percent": 30}],
    )
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"held"})
    assert "conflict" in record["reason"]
    assert record["checks"][-1]["action"] == "conflict"
    assert traffic(fake) == {"web-1": 70, "web-2": 30}
    updates = len(fake.run.updates)
    for _ in range(3):
        canaries.post("/v1/canaries:sweep", headers=internal_headers)
    assert len(fake.run.updates) == updates
    aborted = canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh)
    assert aborted.status_code == 200 and aborted.get_json()["status"] == "aborted"
    assert traffic(fake) == {"web-1": 100}


def test_stale_etag_answer_from_cloud_run_holds_the_canary(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, steps=[10, 50]).get_json()
    fake.run.fail_next("UpdateService", "ABORTED")
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"held"})
    assert "conflict" in record["reason"]


def test_manual_abort_sticks(canaries, deployments, fake, service, gh, internal_headers):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    deployment = create_deployment(deployments, gh)
    canary = start(canaries, gh, deployment_id=deployment["id"], step_minutes=5).get_json()
    aborted = canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh)
    assert aborted.status_code == 200
    body = aborted.get_json()
    assert body["status"] == "aborted" and "aborted by" in body["reason"]
    assert traffic(fake) == {"web-1": 100}
    assert canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh).status_code == 200
    promote = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh)
    assert promote.status_code == 409
    updates = len(fake.run.updates)
    canaries.post("/v1/canaries:sweep", headers=internal_headers)
    assert len(fake.run.updates) == updates
    again = start(canaries, gh)
    assert again.status_code == 409 and again.get_json()["code"] == "revision_rejected"
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "failed"


def test_manual_promote_marks_the_deployment_deployed_with_auto_skip(
    canaries, deployments, fake, service, gh
):
    older = create_deployment(deployments, gh, version="1.9.0")
    deployment = create_deployment(deployments, gh, version="2.0.0")
    canary = start(canaries, gh, deployment_id=deployment["id"], step_minutes=5).get_json()
    promoted = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh)
    assert promoted.status_code == 200 and promoted.get_json()["status"] == "promoted"
    assert traffic(fake) == {"web-2": 100}
    assert canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh).status_code == 200
    assert canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh).status_code == 409
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "deployed"
    skipped = deployments.get(f"/v1/deployments/{older['id']}", headers=gh).get_json()
    assert skipped["status"] == "skipped"


def test_all_at_once_in_dev_moves_everything_in_one_update(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, environment="dev", steps=[5, 20]).get_json()
    assert canary["strategy"] == "all_at_once" and canary["traffic_percent"] == 100
    assert [u["traffic"] for u in fake.run.updates] == [
        [{"revision": "web-2", "percent": 100, "tag": "canary"}]
    ]
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"promoted"})
    assert len(fake.run.updates) == 1 and record["traffic_percent"] == 100


def test_blue_green_tags_verifies_then_switches(
    canaries, fake, service, gh, health_server, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(
        canaries, gh, environment="staging", verify={"path": "/healthz", "timeout_seconds": 2}
    ).get_json()
    assert canary["strategy"] == "blue_green" and canary["status"] == "progressing"
    assert health_server.requests == ["/canary/healthz"]
    first, second = [u["traffic"] for u in fake.run.updates]
    assert {"revision": "web-2", "percent": 0, "tag": "canary"} in first
    assert {"revision": "web-1", "percent": 100, "tag": ""} in first
    assert second == [{"revision": "web-2", "percent": 100, "tag": "canary"}]
    sweep_until(canaries, internal_headers, canary["id"], gh, {"promoted"})


def test_failed_verification_moves_no_traffic(
    canaries, deployments, fake, service, gh, health_server
):
    health_server.status = 503
    deployment = create_deployment(deployments, gh)
    response = start(
        canaries,
        gh,
        deployment_id=deployment["id"],
        verify={"path": "/healthz", "timeout_seconds": 2},
    )
    assert response.status_code == 201
    canary = response.get_json()
    assert canary["status"] == "failed"
    assert "HTTP 503" in canary["reason"] and "database unreachable" in canary["reason"]
    assert traffic(fake) == {"web-1": 100}
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "failed" and "HTTP 503" in linked["notes"]


def test_verification_timeout(canaries, fake, service, gh, health_server):
    health_server.delay = 1.5
    response = start(canaries, gh, verify={"path": "/healthz", "timeout_seconds": 0.3})
    canary = response.get_json()
    assert canary["status"] == "failed" and "timed out" in canary["reason"]
    assert traffic(fake) == {"web-1": 100}


def test_bad_requests_change_nothing(canaries, fake, service, gh, google_headers):
    cases = [
        (canary_body("nope", "web-2"), 404),
        (canary_body("web", "web-9"), 404),
        (canary_body("web", "web-2", stable_revision="web-7"), 404),
        (canary_body("web", "web-1"), 400),
        (canary_body("web", "web-2", steps=[50, 10]), 400),
        (canary_body("web", "web-2", steps=[100]), 400),
        (canary_body("web", "web-2", interval_seconds=0), 400),
        (canary_body("web", "web-2", deployment_id="00000000-0000-0000-0000-000000000000"), 404),
    ]
    for body, status in cases:
        response = canaries.post("/v1/canaries", json=body, headers=gh)
        assert response.status_code == status, (body, response.get_json())
    viewer = canaries.post(
        "/v1/canaries",
        json=canary_body("web", "web-2"),
        headers=google_headers("viewer@example.com"),
    )
    assert viewer.status_code == 403
    assert fake.run.updates == []
    assert canaries.get("/v1/canaries", headers=gh).get_json() == []


def test_one_active_canary_per_service_and_tenancy(canaries, fake, service, gh, identity):
    first = start(canaries, gh, step_minutes=5)
    assert first.status_code == 201
    fake.run.add_revision(PROJECT, REGION, "web", "web-3")
    second = canaries.post("/v1/canaries", json=canary_body("web", "web-3"), headers=gh)
    assert second.status_code == 409 and second.get_json()["code"] == "canary_active"
    other = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    canary_id = first.get_json()["id"]
    assert canaries.get(f"/v1/canaries/{canary_id}", headers=other).status_code == 404
    assert canaries.post(f"/v1/canaries/{canary_id}/abort", headers=other).status_code == 404
    assert canaries.get("/v1/canaries", headers=other).get_json() == []
    listed = canaries.get("/v1/canaries?status=progressing", headers=gh).get_json()
    assert [c["id"] for c in listed] == [canary_id]
    assert canaries.get("/v1/canaries?status=promoted", headers=gh).get_json() == []


def test_deployment_of_another_organisation_is_not_found(
    canaries, deployments, fake, service, identity, gh
):
    other = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    theirs = create_deployment(deployments, other)
    response = start(canaries, gh, deployment_id=theirs["id"])
    assert response.status_code == 404


def test_sweep_needs_an_internal_caller(canaries, gh, google_headers):
    assert canaries.post("/v1/canaries:sweep").status_code == 401
    assert canaries.post("/v1/canaries:sweep", headers=gh).status_code == 403
    admin = google_headers("admin@example.com")
    assert canaries.post("/v1/canaries:sweep", headers=admin).status_code == 403


def test_duplicate_and_concurrent_check_deliveries_run_one_check(
    canaries, fake, service, gh, internal_headers
):
    import threading
    import time

    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh, step_minutes=5).get_json()
    time.sleep(1.1)  # the first check is due interval_seconds after the start
    url = f"/v1/canaries/{canary['id']}:check"
    body = {"organisation": "acme", "check": 1}
    answers = []

    def deliver():
        answers.append(canaries.post(url, json=body, headers=internal_headers).get_json())

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["checked"] for a in answers) == 1
    record = canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()
    assert len(record["checks"]) == 1
    late = canaries.post(url, json=body, headers=internal_headers).get_json()
    assert late == {"checked": False, "status": None}


def test_a_failed_rollback_update_is_redone_at_the_next_check(
    canaries, fake, service, gh, internal_headers
):
    load = Traffic(fake, "web", "web-2", "web-1")
    load.canary_profile["errors_pct"] = 50.0
    install(fake, load)
    canary = start(canaries, gh).get_json()
    fake.run.fail_next("UpdateService", "UNAVAILABLE")
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"rolled_back"})
    first, second = record["checks"][:2]
    assert first["action"].startswith("error:") and "retrying" in first["action"]
    assert second["action"] == "rollback" and len(record["checks"]) == 2
    assert "error rate 50% > 1%" in record["reason"]
    assert traffic(fake) == {"web-1": 100}


def test_a_stale_etag_at_start_holds_the_canary(canaries, fake, service, gh):
    fake.run.fail_next("UpdateService", "ABORTED")
    response = start(canaries, gh)
    assert response.status_code == 201
    canary = response.get_json()
    assert canary["status"] == "held" and "conflict" in canary["reason"]
    assert traffic(fake) == {"web-1": 100}


def test_state_changes_are_events_in_the_outbox(canaries, fake, service, gh, canary_env):
    from google.cloud import firestore

    canary = start(canaries, gh, step_minutes=5).get_json()
    canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh)
    db = firestore.Client(project=canary_env["GOOGLE_CLOUD_PROJECT"])
    from shared.events import stored_events

    events = [
        event
        for d in db.collection("organisations/acme/outbox").stream()
        for event in stored_events(d.to_dict())
    ]
    mine = [e for e in events if e["subject"] == f"canaries/{canary['id']}"]
    types = sorted(e["type"] for e in mine)
    assert "deployq.canary.started" in types and "deployq.canary.aborted" in types
    aborted = next(e for e in mine if e["data"]["after"]["status"] == "aborted")
    assert aborted["data"]["principal"]["actor"] == "octocat"
    assert aborted["data"]["before"]["status"] == "progressing"


def test_an_unapproved_deployment_cannot_start_a_rollout(
    canaries, deployments, fake, service, gh, google_headers
):
    admin = google_headers("admin@example.com")
    policy = deployments.put(
        "/v1/policies/production", json={"requires_approval": True}, headers=admin
    )
    assert policy.status_code == 200, policy.get_json()
    deployment = create_deployment(deployments, gh)
    response = start(canaries, gh, deployment_id=deployment["id"])
    assert response.status_code == 409 and response.get_json()["code"] == "approval_required"
    assert fake.run.updates == []
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "scheduled"
    # Once approved, the same revision may start (a refused start is not a rollback).
    approved = deployments.post(
        f"/v1/deployments/{deployment['id']}/approve",
        headers=google_headers("approver@example.com"),
    )
    assert approved.status_code == 200, approved.get_json()
    started = start(canaries, gh, deployment_id=deployment["id"])
    assert started.status_code == 201, started.get_json()
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "in_progress"


def test_a_finished_deployment_cannot_be_linked(canaries, deployments, fake, service, gh):
    deployment = create_deployment(deployments, gh)
    done = deployments.patch(
        f"/v1/deployments/{deployment['id']}", json={"status": "deployed"}, headers=gh
    )
    assert done.status_code == 200
    response = start(canaries, gh, deployment_id=deployment["id"])
    assert response.status_code == 409 and fake.run.updates == []


def test_cloud_run_down_at_start_answers_503_and_frees_the_service(canaries, fake, service, gh):
    fake.run.fail_next("UpdateService", "UNAVAILABLE")
    response = start(canaries, gh)
    assert response.status_code == 503 and "retry" in response.get_json()["error"]
    listed = canaries.get("/v1/canaries", headers=gh).get_json()
    assert listed[0]["status"] == "failed" and "Cloud Run update failed" in listed[0]["reason"]
    assert traffic(fake) == {"web-1": 100}
    assert start(canaries, gh).status_code == 201


def test_a_vanished_service_holds_the_canary_and_abort_still_ends_it(
    canaries, fake, service, gh, internal_headers
):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    canary = start(canaries, gh).get_json()
    fake.run.fail_next("GetService", "NOT_FOUND", n=2)
    record = sweep_until(canaries, internal_headers, canary["id"], gh, {"held"})
    assert "not found" in record["reason"]
    fake.run.fail_next("GetService", "NOT_FOUND")
    aborted = canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh)
    assert aborted.status_code == 200 and aborted.get_json()["status"] == "aborted"


def test_a_linked_update_that_fails_for_a_moment_is_retried_by_the_sweep(
    canaries, deployments, fake, service, gh, internal_headers, monkeypatch
):
    from shared.deployments.queue import DeploymentQueue
    from shared.errors import ServiceUnavailable

    deployment = create_deployment(deployments, gh, version="2.0.0")
    canary = start(canaries, gh, deployment_id=deployment["id"], step_minutes=5).get_json()
    set_status = DeploymentQueue.set_status

    def unavailable(self, *args, **kwargs):
        raise ServiceUnavailable("Firestore is unavailable")

    monkeypatch.setattr(DeploymentQueue, "set_status", unavailable)
    promoted = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh).get_json()
    assert promoted["status"] == "promoted" and traffic(fake) == {"web-2": 100}
    record = canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()
    assert "unavailable" in record["deployment_error"] and record["deployment_sync_pending"]
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "in_progress"

    canaries.post("/v1/canaries:sweep", headers=internal_headers)  # still unavailable
    assert canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()[
        "deployment_sync_pending"
    ]
    monkeypatch.setattr(DeploymentQueue, "set_status", set_status)
    assert canaries.post("/v1/canaries:sweep", headers=internal_headers).status_code == 200
    record = canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()
    assert record["deployment_error"] is None and not record["deployment_sync_pending"]
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "deployed"
    assert linked["notes"].count(f"canary {canary['id']} promoted") == 1
    canaries.post("/v1/canaries:sweep", headers=internal_headers)  # nothing left to retry
    again = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert again["updated_at"] == linked["updated_at"]


def test_a_refused_linked_update_is_not_retried(
    canaries, deployments, fake, service, gh, internal_headers
):
    deployment = create_deployment(deployments, gh, version="2.0.0")
    canary = start(canaries, gh, deployment_id=deployment["id"], step_minutes=5).get_json()
    # someone marks the deployment failed meanwhile: promote cannot make it deployed
    moved = deployments.patch(
        f"/v1/deployments/{deployment['id']}", json={"status": "failed"}, headers=gh
    )
    assert moved.status_code == 200
    promoted = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh).get_json()
    assert promoted["status"] == "promoted"
    record = canaries.get(f"/v1/canaries/{canary['id']}", headers=gh).get_json()
    assert "cannot move a failed deployment" in record["deployment_error"]
    assert record["deployment_sync_pending"] is False
    canaries.post("/v1/canaries:sweep", headers=internal_headers)
    linked = deployments.get(f"/v1/deployments/{deployment['id']}", headers=gh).get_json()
    assert linked["status"] == "failed"
