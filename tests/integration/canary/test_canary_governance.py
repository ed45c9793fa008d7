"""Canaries meet approvals and freeze windows (contract item 19): a pending linked deployment
starts nothing, a frozen environment neither starts nor promotes, an abort always ends it."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from tests.integration.canary.test_canary_api import create_deployment, start, traffic


def window() -> dict:
    now = clock.utcnow()
    return {
        "name": "launch-freeze",
        "start": clock.to_text(now - timedelta(hours=1)),
        "end": clock.to_text(now + timedelta(hours=1)),
    }


def put_policy(deployments, google_headers, **policy):
    response = deployments.put(
        "/v1/policies/production", json=policy, headers=google_headers("admin@example.com")
    )
    assert response.status_code == 200, response.get_json()


def test_a_pending_linked_deployment_is_409_and_rejected_too(
    canaries, deployments, fake, service, gh, google_headers
):
    put_policy(deployments, google_headers, requires_approval=True)
    deployment = create_deployment(deployments, gh)
    refused = start(canaries, gh, deployment_id=deployment["id"])
    assert refused.status_code == 409 and refused.get_json()["code"] == "approval_required"
    rejected = deployments.post(
        f"/v1/deployments/{deployment['id']}/reject",
        json={"comment": "no"},
        headers=google_headers("approver@example.com"),
    )
    assert rejected.status_code == 200
    again = start(canaries, gh, deployment_id=deployment["id"])
    assert again.status_code == 409
    assert fake.run.updates == []


def test_freeze_window_stops_start_and_promote_but_not_abort(
    canaries, deployments, fake, service, gh, google_headers
):
    admin = google_headers("admin@example.com")
    put_policy(deployments, google_headers, freeze_windows=[window()])
    refused = start(canaries, gh, environment="production")
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["code"] == "freeze_window"
    assert "launch-freeze" in refused.get_json()["error"]
    by_deployment = start(canaries, gh, deployment_id=create_deployment(deployments, gh)["id"])
    assert by_deployment.get_json()["code"] == "freeze_window"
    not_admin = start(canaries, gh, environment="production", override_reason="incident")
    assert not_admin.status_code == 403
    assert fake.run.updates == []
    started = start(
        canaries, admin, environment="production", step_minutes=5, override_reason="incident 7"
    )
    assert started.status_code == 201, started.get_json()
    canary = started.get_json()
    promote = canaries.post(f"/v1/canaries/{canary['id']}/promote", headers=gh)
    assert promote.status_code == 409 and promote.get_json()["code"] == "freeze_window"
    aborted = canaries.post(f"/v1/canaries/{canary['id']}/abort", headers=gh)
    assert aborted.status_code == 200 and aborted.get_json()["status"] == "aborted"
    assert traffic(fake) == {"web-1": 100}


def test_an_admin_promotes_inside_a_window_with_a_reason(
    canaries, deployments, fake, service, gh, google_headers
):
    admin = google_headers("admin@example.com")
    canary = start(canaries, gh, environment="production", step_minutes=5).get_json()
    put_policy(deployments, google_headers, freeze_windows=[window()])
    path = f"/v1/canaries/{canary['id']}/promote"
    assert canaries.post(path, headers=gh).status_code == 409
    promoted = canaries.post(path, json={"override_reason": "incident 8"}, headers=admin)
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["status"] == "promoted"
    assert traffic(fake) == {"web-2": 100}
