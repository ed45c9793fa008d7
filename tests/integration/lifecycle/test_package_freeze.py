"""Freeze windows stop package deploys, now, in the background and when a scheduled job
starts; admins pass with a reason; package rollbacks pass (contract item 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.packages.test_deploy import SHOP, make_package
from tests.integration.packages.test_jobs import finished
from tests.support.governance import drain
from tests.support.packages import database, snapshot

EVERY_DAY = {
    "name": "paris-week",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start_time": "00:00",
    "end_time": "24:00",
    "time_zone": "Europe/Paris",
}


def test_freeze_window_stops_package_deploys(
    api, deployments, as_, put_policy, project, db, events
):
    put_policy(freeze_windows=[EVERY_DAY])
    dev, production = database(project, "dev"), database(project, "production")
    package = make_package(api, as_("deployer"), dev)
    url = f"/v1/packages/{package['id']}/deploy"
    for extra in ({}, {"run_as_background": True}):
        refused = api.post(
            url, json={"environment": "production", **extra}, headers=as_("deployer")
        )
        assert refused.status_code == 409, refused.json
        assert refused.json["code"] == "freeze_window" and "paris-week" in refused.json["error"]
    assert snapshot(production, *SHOP) == {t: {} for t in SHOP}
    dry = api.post(
        url,
        json={"environment": "production", "options": {"dry_run": True}},
        headers=as_("deployer"),
    )
    assert dry.status_code == 200, dry.json
    body = {"environment": "production", "override_reason": "hotfix of prices"}
    forbidden = api.post(url, json=body, headers=as_("deployer"))
    assert forbidden.status_code == 403
    empty = api.post(url, json={**body, "override_reason": ""}, headers=as_("admin"))
    assert empty.status_code == 400 and "override_reason" in str(empty.json)
    passed = api.post(url, json=body, headers=as_("admin"))
    assert passed.status_code == 200, passed.json
    deployed = passed.json["deployment"]
    assert deployed["status"] == "completed" and deployed["override_reason"] == "hotfix of prices"
    assert snapshot(production, *SHOP) == snapshot(dev, *SHOP)
    # A rollback restores service: never frozen.
    rolled = api.post(f"/v1/package-deployments/{deployed['id']}/rollback", headers=as_("deployer"))
    assert rolled.status_code == 200, rolled.json
    assert rolled.json["deployment"]["status"] == "rolled_back"
    assert snapshot(production, *SHOP) == {t: {} for t in SHOP}

    drain(db, events)
    entries = deployments.get(
        f"/v1/audit-logs?resource_id={deployed['id']}", headers=as_("viewer")
    ).json
    actions = [e["action"] for e in reversed(entries)]
    assert actions == [
        "deployq.package_deployment.started",
        "deployq.package_deployment.completed",
        "deployq.package_deployment.rolled_back",
    ]
    start = entries[-1]
    assert start["actor"] == "admin@example.com" and start["override_reason"] == "hotfix of prices"


def test_a_scheduled_deploy_meets_the_window_when_it_starts(api, as_, put_policy, project):
    put_policy(freeze_windows=[EVERY_DAY])
    package = make_package(api, as_("deployer"), database(project, "dev"))
    at = datetime.now(UTC) + timedelta(seconds=1)
    scheduled = api.post(
        f"/v1/packages/{package['id']}/deploy",
        json={"environment": "production", "schedule_at": at.isoformat()},
        headers=as_("deployer"),
    )
    assert scheduled.status_code == 202, scheduled.json
    job = finished(api, as_("deployer"), scheduled.json["job_id"])
    assert job["status"] == "failed" and "freeze_window" in job["error"], job
    assert snapshot(database(project, "production"), *SHOP) == {t: {} for t in SHOP}


def test_package_rollback_needs_approval_like_a_queue_rollback(api, as_, put_policy, project):
    package = make_package(api, as_("deployer"), database(project, "dev"))
    done = api.post(
        f"/v1/packages/{package['id']}/deploy",
        json={"environment": "production"},
        headers=as_("deployer"),
    )
    assert done.status_code == 200, done.json
    put_policy(requires_approval=True, freeze_windows=[EVERY_DAY])
    path = f"/v1/package-deployments/{done.json['deployment']['id']}/rollback"
    waiting = api.post(path, headers=as_("deployer"))
    assert waiting.status_code == 202, waiting.json
    request = waiting.json["deployment"]
    assert request["status"] == "awaiting_approval" and request["approval_status"] == "pending"
    production = database(project, "production")
    assert snapshot(production, "customers")["customers"]  # nothing restored yet
    approved = api.post(f"/v1/package-deployments/{request['id']}/approve", headers=as_("approver"))
    assert approved.status_code == 200, approved.json
    assert approved.json["deployment"]["status"] == "completed"
    assert snapshot(production, *SHOP) == {t: {} for t in SHOP}
    original = api.get(
        f"/v1/package-deployments/{done.json['deployment']['id']}", headers=as_("viewer")
    ).json["deployment"]
    assert original["status"] == "rolled_back"
