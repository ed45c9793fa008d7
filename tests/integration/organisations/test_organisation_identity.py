"""Who the caller is: GitHub owner-id pinning and trust rules, PAT logins, persons."""

from __future__ import annotations

from tests.support.identity import owner_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_first_token_pins_the_owner_id(deployments, identity, platform):
    first = deployments.get("/v1/me", headers=bearer(identity.github_token("acme")))
    assert first.status_code == 200 and first.json["role"] == "deployer"
    record = deployments.get("/v1/organisations/acme", headers=platform).json
    assert record["github"]["owner_id"] == owner_id("acme")
    # The owner name re-registered by someone else (another id) never inherits the tenant.
    impostor = identity.github_token("acme", repository_owner_id="999")
    refused = deployments.get("/v1/me", headers=bearer(impostor))
    assert refused.status_code == 403 and refused.json["code"] == "owner_mismatch"
    again = deployments.get("/v1/me", headers=bearer(identity.github_token("acme")))
    assert again.status_code == 200


def test_a_pinned_record_refuses_other_owner_ids(deployments, identity, register):
    register("acme", github={"owner_id": "42"})
    refused = deployments.get("/v1/me", headers=bearer(identity.github_token("acme")))
    assert refused.status_code == 403 and refused.json["code"] == "owner_mismatch"
    ok = deployments.get(
        "/v1/me", headers=bearer(identity.github_token("acme", repository_owner_id=42))
    )
    assert ok.status_code == 200


def test_tokens_without_owner_id_are_refused(deployments, identity):
    token = identity.github_token("acme", repository_owner_id=None)
    assert deployments.get("/v1/me", headers=bearer(token)).status_code == 401


def test_rules_map_claims_to_roles(deployments, identity, register):
    register(
        "acme",
        github={
            "rules": [
                {
                    "repository": "acme/infra",
                    "ref": "refs/heads/main",
                    "environment": "prod*",
                    "role": "admin",
                },
                {"repository": "acme/*", "ref": "refs/heads/main", "role": "deployer"},
                {"repository": "acme/**", "ref": "refs/tags/**", "role": "viewer"},
            ]
        },
    )

    def role(**claims):
        response = deployments.get(
            "/v1/me", headers=bearer(identity.github_token("acme", **claims))
        )
        return response.json["role"] if response.status_code == 200 else response.json["code"]

    assert role(repository="acme/infra", environment="production") == "admin"
    assert role(repository="acme/infra") == "deployer"  # no environment claim: rules without it
    assert role(repository="acme/app", environment="staging") == "no_matching_rule"
    assert role(repository="acme/app", ref="refs/heads/feature/x") == "no_matching_rule"
    assert role(repository="acme/app", ref="refs/tags/v1/rc1") == "viewer"
    # A viewer by rule cannot queue a deployment.
    token = identity.github_token("acme", ref="refs/tags/v1")
    body = {"name": "web", "version": "1", "provider": "gcp", "type": "k8s"}
    assert deployments.post("/v1/deployments", json=body, headers=bearer(token)).status_code == 403


def test_pat_login_role_and_person(deployments, identity, register):
    identity.add_pat("ghp_ann", "ann-gh", {"acme": "active"})
    identity.add_pat("ghp_bob", "bob", {"acme": "active"})
    register(
        "acme",
        members=[{"email": "ann@example.com", "github_login": "ann-gh", "role": "approver"}],
    )
    ann = deployments.get("/v1/me", headers={**bearer("ghp_ann"), "X-Organisation": "acme"}).json
    assert ann["role"] == "approver" and ann["person"]["email"] == "ann@example.com"
    bob = deployments.get("/v1/me", headers={**bearer("ghp_bob"), "X-Organisation": "acme"}).json
    assert bob["role"] == "deployer" and bob["person"] is None and bob["actor"] == "bob"


def test_workflow_actor_is_a_member_person(deployments, identity, register):
    register(
        "acme", members=[{"email": "octo@example.com", "github_login": "octocat", "role": "admin"}]
    )
    me = deployments.get("/v1/me", headers=bearer(identity.github_token("acme"))).json
    # The role comes from the trust rules (none: deployer), the person from the actor claim.
    assert me["role"] == "deployer" and me["person"]["email"] == "octo@example.com"


def test_a_free_github_owner_uses_the_queue(deployments, identity):
    headers = bearer(identity.github_token("freebie"))
    body = {"name": "web", "version": "1", "provider": "gcp", "type": "k8s"}
    assert deployments.post("/v1/deployments", json=body, headers=headers).status_code == 201
    own = deployments.get("/v1/organisation", headers=headers).json
    assert own["environments"] == {} and own["cloud_run_services"] == []


def test_local_mode_caller_is_admin_and_platform_admin(platform_env, monkeypatch):
    from tests.conftest import make_client

    monkeypatch.setenv("AUTH_ENABLED", "false")
    client = make_client("deployments")
    put = client.put("/v1/organisations/globex", json={"members": []})
    assert put.status_code == 200, put.json
    me = client.get("/v1/me", headers={"X-Organisation": "globex"}).json
    assert me["role"] == "admin" and me["kind"] == "local"
