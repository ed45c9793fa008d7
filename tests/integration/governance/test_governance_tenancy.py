"""Another organisation never sees or touches acme's policies, runbooks, approvals or DORA."""

from __future__ import annotations

from tests.support.governance import drain


def test_tenancy(deployments, db, events, as_, create, put_policy, identity):
    put_policy(requires_approval=True)
    record = create("1")
    runbook = deployments.post(
        "/v1/runbooks",
        json={"title": "t", "content": "c", "service": "web"},
        headers=as_("deployer"),
    ).json
    approved = deployments.post(f"/v1/deployments/{record['id']}/approve", headers=as_("approver"))
    deployments.patch(
        f"/v1/deployments/{record['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    assert approved.status_code == 200
    drain(db, events)

    globex = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    assert (
        deployments.get("/v1/policies/production", headers=globex).json["requires_approval"]
        is False
    )
    assert deployments.get("/v1/runbooks", headers=globex).json == []
    assert deployments.get(f"/v1/runbooks/{runbook['id']}", headers=globex).status_code == 404
    assert deployments.delete(f"/v1/runbooks/{runbook['id']}", headers=globex).status_code == 404
    assert (
        deployments.post(
            f"/v1/deployments/{record['id']}/reject", json={"comment": "x"}, headers=globex
        ).status_code
        == 404
    )
    figures = deployments.get("/v1/metrics/dora", headers=globex).json
    assert figures["deployment_frequency"]["deployments"] == 0
    mine = deployments.get("/v1/metrics/dora", headers=as_("viewer")).json
    assert mine["deployment_frequency"]["deployments"] == 1
