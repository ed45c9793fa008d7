"""Package deployments into a protected environment wait for approval (contract item 17)."""

from __future__ import annotations

from tests.integration.packages.test_deploy import SHOP, make_package
from tests.integration.packages.test_jobs import finished
from tests.support.governance import drain
from tests.support.packages import database, snapshot
from tests.support.waiting import wait_for


def inbox(deployments, headers, status="pending"):
    response = deployments.get(f"/v1/approvals?status={status}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def audit_of(deployments, headers, resource_id):
    response = deployments.get(
        f"/v1/audit-logs?resource_id={resource_id}&limit=1000", headers=headers
    )
    assert response.status_code == 200, response.json
    return list(reversed(response.json))  # oldest first


def test_two_approvals_start_a_package_deploy(
    api, deployments, as_, workflow, put_policy, db, events, project
):
    put_policy(requires_approval=True, min_approvals=2)
    dev, production = database(project, "dev"), database(project, "production")
    package = make_package(api, as_("ann"), dev)
    body = {"environment": "production", "options": {}}
    waiting = api.post(f"/v1/packages/{package['id']}/deploy", json=body, headers=as_("ann"))
    assert waiting.status_code == 202, waiting.json
    record = waiting.json["deployment"]
    assert record["status"] == "awaiting_approval" and record["approval_status"] == "pending"
    assert record["job_id"] is None
    assert snapshot(production, *SHOP) == {t: {} for t in SHOP}  # nothing written

    # The inbox, for whoever asks: the approver may approve, the creator may not.
    [item] = [i for i in inbox(deployments, as_("approver")) if i["id"] == record["id"]]
    assert item["kind"] == "package_deployment" and item["environment"] == "production"
    assert item["package_id"] == package["id"] and item["name"] == "shop"
    assert item["created_by"] == "ann@example.com" and item["min_approvals"] == 2
    assert item["can_approve"] is True
    [mine] = [i for i in inbox(deployments, as_("ann")) if i["id"] == record["id"]]
    assert mine["can_approve"] is False
    viewer = [i for i in inbox(deployments, as_("viewer")) if i["id"] == record["id"]]
    assert viewer[0]["can_approve"] is False

    path = f"/v1/package-deployments/{record['id']}"
    # The creator cannot approve, under any of her credentials.
    for headers in (as_("ann"), workflow):
        refused = api.post(f"{path}/approve", json={}, headers=headers)
        assert refused.status_code == 403, refused.json
    first = api.post(f"{path}/approve", json={"comment": "data checked"}, headers=as_("approver"))
    assert first.status_code == 200, first.json
    assert first.json["deployment"]["approval_status"] == "pending"
    again = api.post(f"{path}/approve", headers=as_("approver"))
    assert again.status_code == 200 and len(again.json["deployment"]["approvals"]) == 1
    [item] = [i for i in inbox(deployments, as_("approver")) if i["id"] == record["id"]]
    assert item["can_approve"] is False and len(item["approvals"]) == 1
    second = api.post(f"{path}/approve", headers=as_("admin"))
    assert second.status_code == 200, second.json
    started = second.json["deployment"]
    assert started["approval_status"] == "approved" and started["job_id"]
    late = api.post(f"{path}/approve", headers=as_("approver@example.com"))
    assert late.status_code == 409 and late.json["code"] == "not_pending"

    job = finished(api, as_("ann"), started["job_id"])
    assert job["status"] == "completed", job
    done = api.get(path, headers=as_("viewer")).json["deployment"]
    assert done["status"] == "completed" and done["approval_status"] == "approved"
    assert [a["actor"] for a in done["approvals"]] == ["approver@example.com", "admin@example.com"]
    assert snapshot(production, *SHOP) == snapshot(dev, *SHOP)
    assert record["id"] not in [i["id"] for i in inbox(deployments, as_("approver"))]
    assert record["id"] in [i["id"] for i in inbox(deployments, as_("viewer"), "approved")]

    drain(db, events)
    entries = audit_of(deployments, as_("viewer"), record["id"])
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("deployq.approval.requested", "ann@example.com"),
        ("deployq.package_deployment.approved", "approver@example.com"),
        ("deployq.package_deployment.approved", "admin@example.com"),
        ("deployq.package_deployment.started", entries[3]["actor"]),
        ("deployq.package_deployment.completed", entries[3]["actor"]),
    ]
    # The worker ran it for ann.
    assert entries[3]["principal_kind"] == "internal"
    assert entries[3]["on_behalf_of"] == entries[4]["on_behalf_of"] == "ann@example.com"
    assert entries[1]["comment"] == "data checked"
    one = deployments.get(f"/v1/audit-logs/{entries[1]['id']}", headers=as_("viewer"))
    assert one.status_code == 200 and one.json["id"] == entries[1]["id"]


def test_reject_writes_nothing_and_dry_runs_never_wait(api, deployments, as_, put_policy, project):
    put_policy(requires_approval=True)
    dev, production = database(project, "dev"), database(project, "production")
    package = make_package(api, as_("deployer"), dev)
    url = f"/v1/packages/{package['id']}/deploy"
    dry = api.post(
        url,
        json={"environment": "production", "options": {"dry_run": True}},
        headers=as_("deployer"),
    )
    assert dry.status_code == 200 and dry.json["deployment"]["status"] == "completed"
    waiting = api.post(url, json={"environment": "production"}, headers=as_("deployer"))
    assert waiting.status_code == 202
    path = f"/v1/package-deployments/{waiting.json['deployment']['id']}"
    missing = api.post(f"{path}/reject", json={}, headers=as_("approver"))
    assert missing.status_code == 400 and "comment" in str(missing.json)
    nobody = api.post(f"{path}/reject", json={"comment": "no"}, headers=as_("viewer"))
    assert nobody.status_code == 403
    rejected = api.post(f"{path}/reject", json={"comment": "not today"}, headers=as_("approver"))
    assert rejected.status_code == 200, rejected.json
    assert rejected.json["deployment"]["status"] == "rejected"
    assert rejected.json["deployment"]["approval_status"] == "rejected"
    assert api.post(f"{path}/approve", headers=as_("admin")).status_code == 409
    assert snapshot(production, *SHOP) == {t: {} for t in SHOP}
    listed = deployments.get("/v1/approvals?status=rejected", headers=as_("viewer")).json
    assert waiting.json["deployment"]["id"] in [i["id"] for i in listed]
    bad = deployments.get("/v1/approvals?status=maybe", headers=as_("viewer"))
    assert bad.status_code == 400 and "status" in str(bad.json)
    wait_for(lambda: True)


def test_inbox_pages_newest_first_across_both_kinds(api, deployments, as_, put_policy, project):
    put_policy(requires_approval=True)
    package = make_package(api, as_("deployer"), database(project, "dev"))
    ids = []
    for n in range(3):
        web = {"name": "web", "provider": "gcp", "type": "k8s", "environment": "production"}
        created = deployments.post(
            "/v1/deployments", json={**web, "version": str(n)}, headers=as_("deployer")
        )
        assert created.status_code == 201
        ids.append(created.json["id"])
        waiting = api.post(
            f"/v1/packages/{package['id']}/deploy",
            json={"environment": "production"},
            headers=as_("deployer"),
        )
        ids.append(waiting.json["deployment"]["id"])
    seen, token = [], None
    while True:
        url = "/v1/approvals?limit=2" + (f"&page_token={token}" if token else "")
        response = deployments.get(url, headers=as_("approver"))
        assert response.status_code == 200, response.json
        seen += response.json
        token = response.headers.get("X-Next-Page-Token")
        if not token:
            break
    mine = [i for i in seen if i["id"] in ids]
    assert [i["id"] for i in mine] == list(reversed(ids))
    assert {i["kind"] for i in mine} == {"deployment", "package_deployment"}
    assert all(i["can_approve"] for i in mine)
    assert len(seen) == len({i["id"] for i in seen})


def test_a_retried_waiting_deploy_with_an_idempotency_key_answers_the_first(
    api, deployments, as_, put_policy, project
):
    put_policy(requires_approval=True)
    package = make_package(api, as_("deployer"), database(project, "dev"))
    headers = {**as_("deployer"), "Idempotency-Key": "deploy-prices-1"}
    url = f"/v1/packages/{package['id']}/deploy"
    first = api.post(url, json={"environment": "production"}, headers=headers)
    again = api.post(url, json={"environment": "production"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json["deployment"]["id"] == again.json["deployment"]["id"]
    pending = deployments.get("/v1/approvals", headers=as_("approver")).json
    assert [i["id"] for i in pending].count(first.json["deployment"]["id"]) == 1
