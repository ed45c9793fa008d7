"""Approval policies: who may approve, self-approval, min approvals, reject, the 409 gate."""

from __future__ import annotations

import pytest

from tests.integration.governance.conftest import WEB


def patch(deployments, as_, deployment_id, role="deployer", **body):
    return deployments.patch(f"/v1/deployments/{deployment_id}", json=body, headers=as_(role))


def test_policy_defaults_admin_only_and_validation(deployments, as_):
    response = deployments.get("/v1/policies/production", headers=as_("viewer"))
    assert response.status_code == 200
    policy = response.json
    assert policy["requires_approval"] is False and policy["min_approvals"] == 1
    assert policy["approver_role"] == "approver" and policy["prevent_self_approval"] is True
    assert policy["freeze_windows"] == [] and policy["approvers"] == []

    denied = deployments.put(
        "/v1/policies/production", json={"requires_approval": True}, headers=as_("approver")
    )
    assert denied.status_code == 403

    saved = deployments.put(
        "/v1/policies/production", json={"requires_approval": True}, headers=as_("admin")
    )
    assert saved.status_code == 200
    assert saved.json["requires_approval"] is True and saved.json["min_approvals"] == 1
    assert saved.json["updated_by"] == "admin@example.com"
    assert deployments.get("/v1/policies/production", headers=as_("viewer")).json == saved.json


@pytest.mark.parametrize(
    "body, field",
    [
        ({"min_approvals": 0}, "min_approvals"),
        ({"approver_role": "boss"}, "approver_role"),
        (
            {
                "freeze_windows": [
                    {"name": "x", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
                ]
            },
            "freeze_windows",
        ),
        (
            {
                "freeze_windows": [
                    {
                        "name": "x",
                        "days": ["sat"],
                        "start_time": "00:00",
                        "end_time": "24:00",
                        "time_zone": "Mars/Olympus",
                    }
                ]
            },
            "freeze_windows",
        ),
        (
            {
                "freeze_windows": [
                    {"name": "x", "days": ["someday"], "start_time": "00:00", "end_time": "10:00"}
                ]
            },
            "freeze_windows",
        ),
        (
            {
                "freeze_windows": [
                    {"name": "x", "days": ["mon"], "start_time": "9am", "end_time": "10:00"}
                ]
            },
            "freeze_windows",
        ),
        (
            {
                "freeze_windows": [
                    {"name": "x", "days": ["mon"], "start_time": "10:00", "end_time": "09:00"}
                ]
            },
            "freeze_windows",
        ),
        ({"requires_approval": "yes please"}, "requires_approval"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_policies_are_400_naming_the_field(deployments, as_, body, field):
    response = deployments.put("/v1/policies/production", json=body, headers=as_("admin"))
    assert response.status_code == 400
    assert any(d["field"].startswith(field) for d in response.json["details"]), response.json


def test_protected_environment_needs_approval_before_moving(deployments, as_, create, put_policy):
    put_policy(requires_approval=True)
    record = create("1")
    assert record["approval_status"] == "pending" and record["approvals"] == []
    unprotected = create("2", environment="staging", name="api")
    assert unprotected["approval_status"] == "not_required"

    for status in ("in_progress", "deployed"):
        response = patch(deployments, as_, record["id"], status=status)
        assert response.status_code == 409
        assert response.json["code"] == "approval_required"
        assert "approv" in response.json["error"]
    claimed = deployments.post("/v1/deployments/claim", json=WEB, headers=as_("deployer"))
    assert claimed.status_code == 409 and claimed.json["code"] == "approval_required"
    # Moves that ship nothing are not gated.
    assert patch(deployments, as_, unprotected["id"], status="failed").status_code == 200

    approved = deployments.post(
        f"/v1/deployments/{record['id']}/approve",
        json={"comment": "looks good"},
        headers=as_("approver"),
    )
    assert approved.status_code == 200
    assert approved.json["approval_status"] == "approved"
    [approval] = approved.json["approvals"]
    assert approval["actor"] == "approver@example.com"
    assert approval["decision"] == "approved" and approval["comment"] == "looks good"
    response = deployments.post("/v1/deployments/claim", json=WEB, headers=as_("deployer"))
    assert response.status_code == 200 and response.json["status"] == "in_progress"
    assert patch(deployments, as_, record["id"], status="deployed").status_code == 200


def test_who_may_approve(deployments, as_, create, put_policy):
    put_policy(requires_approval=True, approvers=["deployer@example.com"])
    by_approver = create("1", role="approver")
    by_deployer = create("2", role="deployer")

    # A viewer is neither approver nor listed.
    response = deployments.post(
        f"/v1/deployments/{by_deployer['id']}/approve", headers=as_("viewer")
    )
    assert response.status_code == 403
    # The creator may not approve their own deployment, whatever their role.
    response = deployments.post(
        f"/v1/deployments/{by_approver['id']}/approve", headers=as_("approver")
    )
    assert response.status_code == 403 and "may not approve" in response.json["error"]
    response = deployments.post(
        f"/v1/deployments/{by_deployer['id']}/approve", headers=as_("deployer")
    )
    assert response.status_code == 403
    # A listed approver with a low role may approve somebody else's deployment.
    response = deployments.post(
        f"/v1/deployments/{by_approver['id']}/approve", headers=as_("deployer")
    )
    assert response.status_code == 200 and response.json["approval_status"] == "approved"
    # Approving what is no longer pending is a conflict.
    response = deployments.post(
        f"/v1/deployments/{by_approver['id']}/approve", headers=as_("admin")
    )
    assert response.status_code == 409


def test_self_approval_allowed_when_the_policy_says_so(deployments, as_, create, put_policy):
    put_policy(requires_approval=True, prevent_self_approval=False)
    record = create("1", role="approver")
    response = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("approver"))
    assert response.status_code == 200 and response.json["approval_status"] == "approved"


def test_insufficient_role_for_a_stricter_approver_role(deployments, as_, create, put_policy):
    put_policy(requires_approval=True, approver_role="admin")
    record = create("1")
    response = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("approver"))
    assert response.status_code == 403 and "admin" in response.json["error"]
    response = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("admin"))
    assert response.status_code == 200


def test_min_approvals_counts_distinct_people(deployments, as_, create, put_policy):
    put_policy(requires_approval=True, min_approvals=2)
    record = create("1")
    url = f"/v1/deployments/{record['id']}/approve"
    first = deployments.post(url, headers=as_("approver"))
    assert first.status_code == 200 and first.json["approval_status"] == "pending"
    again = deployments.post(url, headers=as_("approver"))
    assert again.status_code == 200 and again.json["approval_status"] == "pending"
    assert len(again.json["approvals"]) == 1
    assert patch(deployments, as_, record["id"], status="deployed").status_code == 409
    second = deployments.post(url, headers=as_("admin"))
    assert second.json["approval_status"] == "approved" and len(second.json["approvals"]) == 2
    assert patch(deployments, as_, record["id"], status="deployed").status_code == 200


def test_reject_skips_with_the_reason(deployments, as_, create, put_policy):
    put_policy(requires_approval=True)
    record = create("1")
    url = f"/v1/deployments/{record['id']}/reject"
    assert deployments.post(url, headers=as_("approver")).status_code == 400
    assert deployments.post(url, json={"comment": ""}, headers=as_("approver")).status_code == 400
    assert deployments.post(url, json={"comment": "no"}, headers=as_("viewer")).status_code == 403
    response = deployments.post(
        url, json={"comment": "not during the sale"}, headers=as_("approver")
    )
    assert response.status_code == 200
    rejected = response.json
    assert rejected["status"] == "skipped" and rejected["approval_status"] == "rejected"
    assert "approver@example.com" in rejected["notes"]
    assert "not during the sale" in rejected["notes"]
    assert rejected["approvals"][0]["decision"] == "rejected"
    again = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("admin"))
    assert again.status_code == 409
    got = deployments.get(f"/v1/deployments/{record['id']}", headers=as_("viewer")).json
    assert got["approval_status"] == "rejected" and got["approvals"] == rejected["approvals"]


def test_approving_an_unprotected_deployment_is_409(deployments, as_, create):
    record = create("1", environment="dev")
    response = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("admin"))
    assert response.status_code == 409 and response.json["code"] == "not_pending"


def test_another_organisation_cannot_see_or_approve(
    deployments, as_, create, put_policy, google_headers, base_env
):
    put_policy(requires_approval=True)
    record = create("1")
    response = deployments.post(
        f"/v1/deployments/{record['id']}/approve", headers=as_("approver", org="globex")
    )
    # approver@ has no role in globex: 403 before anything is looked up.
    assert response.status_code == 403
    missing = deployments.post(
        "/v1/deployments/00000000-0000-4000-8000-000000000000/approve", headers=as_("admin")
    )
    assert missing.status_code == 404
