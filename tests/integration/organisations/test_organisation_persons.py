"""Approvals compare persons: one member entry is one person, whatever the credential."""

from __future__ import annotations

WEB = {"name": "web", "provider": "gcp", "type": "k8s", "environment": "production"}
ANN = {"email": "ann@example.com", "github_login": "octocat", "role": "approver"}


def setup(deployments, register, google_headers, min_approvals):
    register(
        "acme",
        members=[
            {"email": "admin@example.com", "role": "admin"},
            ANN,
            {"email": "approver@example.com", "role": "approver"},
        ],
        # Workflows of acme's main branch may approve (Ann's actor claim is octocat).
        github={"rules": [{"repository": "acme/*", "ref": "refs/heads/main", "role": "approver"}]},
    )
    policy = {"requires_approval": True, "min_approvals": min_approvals}
    put = deployments.put("/v1/policies/production", json=policy, headers=google_headers())
    assert put.status_code == 200, put.json


def test_the_creator_cannot_approve_under_another_credential(
    deployments, register, google_headers, identity
):
    setup(deployments, register, google_headers, 1)
    workflow = {"Authorization": f"Bearer {identity.github_token('acme')}"}
    created = deployments.post("/v1/deployments", json={**WEB, "version": "1"}, headers=workflow)
    assert created.status_code == 201 and created.json["created_by_actor"] == "octocat"
    path = f"/v1/deployments/{created.json['id']}/approve"
    # Ann's Google identity is the same person as the workflow's actor.
    refused = deployments.post(path, headers=google_headers("ann@example.com"))
    assert refused.status_code == 403, refused.json
    other = deployments.post(path, headers=google_headers("approver@example.com"))
    assert other.status_code == 200 and other.json["approval_status"] == "approved"


def test_two_credentials_of_one_person_count_once(deployments, register, google_headers, identity):
    setup(deployments, register, google_headers, 2)
    created = deployments.post(
        "/v1/deployments",
        json={**WEB, "version": "1"},
        headers=google_headers("deployer@example.com"),
    )
    assert created.status_code == 201
    path = f"/v1/deployments/{created.json['id']}/approve"
    first = deployments.post(path, headers=google_headers("ann@example.com"))
    assert first.status_code == 200 and first.json["approval_status"] == "pending"
    workflow = {"Authorization": f"Bearer {identity.github_token('acme')}"}
    again = deployments.post(path, headers=workflow)
    assert again.status_code == 200, again.json
    assert again.json["approval_status"] == "pending"
    assert [a["actor"] for a in again.json["approvals"]] == ["ann@example.com"]
    second = deployments.post(path, headers=google_headers("approver@example.com"))
    assert second.json["approval_status"] == "approved"
