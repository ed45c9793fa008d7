"""Freeze windows: moves that ship are 409 naming the window; admins override with a reason."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from tests.integration.governance.conftest import WEB
from tests.support.governance import drain

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def around_now(name: str = "launch-freeze") -> dict:
    now = clock.utcnow()
    return {
        "name": name,
        "start": clock.to_text(now - timedelta(hours=1)),
        "end": clock.to_text(now + timedelta(hours=1)),
    }


def test_one_off_window_blocks_shipping_moves(deployments, as_, create, put_policy):
    put_policy(freeze_windows=[around_now()])
    record = create("1")  # creating is never blocked
    assert record["approval_status"] == "not_required"
    for status in ("in_progress", "deployed"):
        response = deployments.patch(
            f"/v1/deployments/{record['id']}", json={"status": status}, headers=as_("deployer")
        )
        assert response.status_code == 409
        assert response.json["code"] == "freeze_window"
        assert "launch-freeze" in response.json["error"]
    claimed = deployments.post("/v1/deployments/claim", json=WEB, headers=as_("deployer"))
    assert claimed.status_code == 409 and claimed.json["code"] == "freeze_window"
    # Giving up is allowed.
    failed = deployments.patch(
        f"/v1/deployments/{record['id']}", json={"status": "failed"}, headers=as_("deployer")
    )
    assert failed.status_code == 200


def test_other_environments_are_not_frozen(deployments, as_, create, put_policy):
    put_policy(freeze_windows=[around_now()])
    record = create("1", environment="staging")
    response = deployments.patch(
        f"/v1/deployments/{record['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    assert response.status_code == 200


def test_weekly_window_in_a_time_zone(deployments, as_, create, put_policy):
    window = {
        "name": "every-day",
        "days": ALL_DAYS,
        "start_time": "00:00",
        "end_time": "24:00",
        "time_zone": "America/New_York",
    }
    put_policy(freeze_windows=[window])
    assert deployments.get("/v1/policies/production", headers=as_("viewer")).json[
        "freeze_windows"
    ] == [window]
    record = create("1")
    response = deployments.patch(
        f"/v1/deployments/{record['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    assert response.status_code == 409 and "every-day" in response.json["error"]


def test_rollbacks_pass_freeze_windows(deployments, as_, create, put_policy):
    first, second = create("1"), create("2")
    for record in (first, second):
        deployments.patch(
            f"/v1/deployments/{record['id']}", json={"status": "deployed"}, headers=as_("deployer")
        )
    put_policy(freeze_windows=[around_now()])
    rollback = deployments.post(f"/v1/deployments/{second['id']}/rollback", headers=as_("deployer"))
    assert rollback.status_code == 201 and rollback.json["trigger"] == "rollback"
    response = deployments.patch(
        f"/v1/deployments/{rollback.json['id']}",
        json={"status": "deployed"},
        headers=as_("deployer"),
    )
    assert response.status_code == 200
    assert response.json["status"] == "deployed"


def test_admin_override_is_recorded_in_the_audit_log(
    deployments, events, db, as_, create, put_policy
):
    put_policy(freeze_windows=[around_now()])
    record = create("1")
    url = f"/v1/deployments/{record['id']}"
    body = {"status": "deployed", "override_reason": "hotfix for incident 42"}
    assert deployments.patch(url, json=body, headers=as_("deployer")).status_code == 403
    assert deployments.patch(url, json=body, headers=as_("approver")).status_code == 403
    empty = deployments.patch(url, json={**body, "override_reason": ""}, headers=as_("admin"))
    assert empty.status_code == 400
    response = deployments.patch(url, json=body, headers=as_("admin"))
    assert response.status_code == 200 and response.json["status"] == "deployed"

    drain(db, events)
    entries = deployments.get(
        f"/v1/audit-logs?resource_id={record['id']}&action=deployq.deployment.status_changed",
        headers=as_("viewer"),
    ).json
    [entry] = entries
    assert entry["override_reason"] == "hotfix for incident 42"
    assert entry["actor"] == "admin@example.com"
    assert entry["before"]["status"] == "scheduled" and entry["after"]["status"] == "deployed"


def test_weekly_window_across_the_dst_change_through_the_store(db, base_env):
    """The guard on a real queue, its clock set around the 2026 spring-forward in Paris."""
    from shared.auth import Principal
    from shared.deployments.queue import DeploymentQueue
    from shared.errors import Conflict
    from shared.events import EventSink
    from shared.governance.approvals import Approvals
    from shared.governance.policies import Policies
    from shared.models.deployment import Status
    from shared.schemas.deployment import DeploymentCreate, DeploymentPatch
    from shared.schemas.governance import PolicyBody
    from shared.store.deployments import DeploymentStore
    from shared.store.policies import PolicyStore

    moment = {"now": clock.parse("2026-03-29T21:59:59Z")}  # Sunday 23:59:59 CEST
    sink = EventSink(db, None)
    policies = Policies(PolicyStore(db), sink)
    records = DeploymentStore(db)
    approvals = Approvals(policies, records, sink, now=lambda: moment["now"])
    store = DeploymentQueue(records, sink, approvals)
    admin = Principal("google", "admin", "acme", "admin", actor="admin@example.com")
    policy = PolicyBody(
        freeze_windows=[
            {
                "name": "weekends",
                "days": ["sat", "sun"],
                "start_time": "00:00",
                "end_time": "24:00",
                "time_zone": "Europe/Paris",
            }
        ]
    )
    policies.put("acme", "production", policy, admin, {})

    def ship(version: str) -> str:
        record, _ = store.create(
            "acme", DeploymentCreate(**WEB, version=version, environment="production"), admin
        )
        try:
            store.update("acme", record["id"], DeploymentPatch(status=Status.deployed), admin)
            return "deployed"
        except Conflict as exc:
            assert exc.code == "freeze_window" and "2026-03-29T22:00:00" in exc.message
            return "frozen"

    assert ship("1") == "frozen"
    moment["now"] = clock.parse("2026-03-29T22:00:00Z")  # Monday 00:00 CEST (UTC+2)
    assert ship("2") == "deployed"
    moment["now"] = clock.parse("2026-03-27T22:30:00Z")  # Friday 23:30 CET (UTC+1)
    assert ship("3") == "deployed"
    moment["now"] = clock.parse("2026-03-27T23:00:00Z")  # Saturday 00:00 CET
    assert ship("4") == "frozen"
