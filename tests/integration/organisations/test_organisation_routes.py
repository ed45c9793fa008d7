"""Organisation records over the deployments API: platform admins, org admins, /v1/me."""

from __future__ import annotations

import pytest

from tests.support.governance import outbox

ENVS = {"dev": {"project": "other-project", "database": "dev"}}


def test_platform_admin_creates_reads_lists_and_deletes(deployments, platform, register, project):
    record = register(
        "Acme",
        environments=ENVS,
        cloud_run_services=["projects/other-project/locations/eu/services/web*"],
        members=[{"email": "Ann@Example.com", "role": "admin"}],
    )
    assert record["name"] == "acme"
    assert record["members"] == [
        {"email": "ann@example.com", "github_login": None, "role": "admin"}
    ]
    assert record["github"] == {"owner_id": None, "rules": []}
    assert record["created_at"] and record["updated_at"]
    register("globex")
    got = deployments.get("/v1/organisations/acme", headers=platform)
    assert got.status_code == 200 and got.json["environments"] == ENVS
    page = deployments.get("/v1/organisations?limit=1", headers=platform)
    assert [r["name"] for r in page.json] == ["acme"]
    token = page.headers["X-Next-Page-Token"]
    rest = deployments.get(f"/v1/organisations?limit=1&page_token={token}", headers=platform)
    assert [r["name"] for r in rest.json] == ["globex"] and "X-Next-Page-Token" not in rest.headers
    assert deployments.delete("/v1/organisations/acme", headers=platform).status_code == 204
    empty = deployments.get("/v1/organisations/acme", headers=platform).json
    assert empty["environments"] == {} and empty["members"] == []


def test_every_change_is_an_organisation_event(deployments, platform, register, project):
    from shared.store import firestore as fs

    register("acme", environments=ENVS)
    register("acme", environments=ENVS)  # the same record again: no change, no event
    deployments.delete("/v1/organisations/acme", headers=platform)
    events = [item["event"] for item in outbox(fs.client(project), "acme")]
    assert [e["type"] for e in events] == ["deployq.organisation.updated"] * 2
    assert events[0]["subject"] == "organisations/acme"
    assert events[0]["data"]["principal"]["actor"] == "root@example.com"


def test_only_platform_admins_manage_records(deployments, google_headers, gh):
    for headers in (google_headers("admin@example.com"), gh):
        for method, path in (
            ("put", "/v1/organisations/acme"),
            ("get", "/v1/organisations/acme"),
            ("delete", "/v1/organisations/acme"),
            ("get", "/v1/organisations"),
        ):
            kwargs = {"json": {}} if method == "put" else {}
            response = getattr(deployments, method)(path, headers=headers, **kwargs)
            assert response.status_code == 403, (method, path, response.json)
    assert deployments.get("/v1/organisations").status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"environments": {"Prod": {"project": "other-project", "database": "p"}}}, "environments"),
        (
            {"environments": {"dev": {"project": "X", "database": "dev"}}},
            "environments.dev.project",
        ),
        ({"environments": {"dev": {"project": "other-project", "database": "a b"}}}, "database"),
        ({"environments": {"dev": "nope"}}, "environments.dev"),
        ({"cloud_run_services": ["projects/p/services/x"]}, "cloud_run_services"),
        ({"cloud_run_services": ["projects/other-project/locations/eu/services/w*b"]}, "cloud_run"),
        ({"members": [{"role": "admin"}]}, "members.0"),
        ({"members": [{"email": "a@x.io", "role": "owner"}]}, "members.0.role"),
        (
            {
                "members": [
                    {"email": "a@x.io", "role": "admin"},
                    {"email": "A@x.io", "role": "viewer"},
                ]
            },
            "members",
        ),
        ({"github": {"owner_id": "abc"}}, "github.owner_id"),
        (
            {"github": {"rules": [{"repository": "a b", "ref": "*", "role": "admin"}]}},
            "github.rules.0",
        ),
        ({"github": {"rules": [{"repository": "a/*", "ref": "***", "role": "admin"}]}}, "ref"),
        ({"github": {"rules": [{"repository": "a/*", "ref": "*", "role": "god"}]}}, "role"),
        ({"name": "globex"}, "name"),
        ({"colour": "red"}, "colour"),
        ({"members": "everyone"}, "members"),
    ],
)
def test_bad_records_are_400_naming_the_field(deployments, platform, body, field):
    response = deployments.put("/v1/organisations/acme", json=body, headers=platform)
    assert response.status_code == 400, response.json
    assert any(field in d["field"] for d in response.json["details"]), response.json


def test_bad_paths_and_queries_are_400(deployments, platform):
    assert deployments.get("/v1/organisations?limit=0", headers=platform).status_code == 400
    assert deployments.get("/v1/organisations?limit=x", headers=platform).status_code == 400
    bad = deployments.get("/v1/organisations?page_token=%%%", headers=platform)
    assert bad.status_code == 400 and bad.json["details"][0]["field"] == "page_token"
    odd = deployments.get("/v1/organisations/..", headers=platform)
    assert odd.status_code in (400, 404)
    assert deployments.put("/v1/organisations/a%20b", json={}, headers=platform).status_code == 400
    text = deployments.put(
        "/v1/organisations/acme", data="{", headers={**platform, "Content-Type": "application/json"}
    )
    assert text.status_code == 400


def test_control_plane_database_is_refused(deployments, platform, project):
    body = {"environments": {"prod": {"project": project, "database": "(default)"}}}
    response = deployments.put("/v1/organisations/acme", json=body, headers=platform)
    assert response.status_code == 400
    assert response.json["code"] == "control_plane_database"
    assert response.json["details"][0]["field"] == "environments.prod.database"


def test_own_record_and_me(deployments, google_headers, register):
    empty = deployments.get("/v1/organisation", headers=google_headers("viewer@example.com"))
    assert empty.status_code == 200
    assert empty.json["name"] == "acme" and empty.json["environments"] == {}
    me = deployments.get("/v1/me", headers=google_headers("viewer@example.com")).json
    assert me == {
        "kind": "google",
        "organisation": "acme",
        "actor": "viewer@example.com",
        "role": "viewer",
        "person": None,
    }
    register(
        "acme", members=[{"email": "viewer@example.com", "github_login": "vi", "role": "approver"}]
    )
    me = deployments.get("/v1/me", headers=google_headers("viewer@example.com")).json
    assert me["role"] == "approver"
    assert me["person"] == {"email": "viewer@example.com", "github_login": "vi", "role": "approver"}


def test_members_replace_org_access(deployments, google_headers, register):
    register("acme", members=[{"email": "stranger@example.com", "role": "deployer"}])
    me = deployments.get("/v1/me", headers=google_headers("stranger@example.com"))
    assert me.status_code == 200 and me.json["role"] == "deployer"
    # ORG_ACCESS still admits its people (bootstrap); nobody else gets in.
    assert deployments.get("/v1/me", headers=google_headers("admin@example.com")).status_code == 200
    assert (
        deployments.get("/v1/me", headers=google_headers("nobody@example.com")).status_code == 403
    )


def test_org_admin_changes_members_and_rules_only(deployments, google_headers, register):
    register("acme", environments=ENVS, members=[{"email": "admin@example.com", "role": "admin"}])
    admin = google_headers("admin@example.com")
    members = [
        {"email": "admin@example.com", "role": "admin"},
        {"github_login": "octocat", "role": "deployer"},
    ]
    rules = [{"repository": "acme/*", "ref": "refs/heads/main", "role": "deployer"}]
    response = deployments.patch(
        "/v1/organisation", json={"members": members, "github": {"rules": rules}}, headers=admin
    )
    assert response.status_code == 200, response.json
    assert response.json["members"][1]["github_login"] == "octocat"
    assert response.json["github"]["rules"][0]["environment"] is None
    assert response.json["environments"] == ENVS
    for body, field in (
        (
            {"environments": {"prod": {"project": "other-project", "database": "prod"}}},
            "environments",
        ),
        (
            {"cloud_run_services": ["projects/other-project/locations/eu/services/x"]},
            "cloud_run_services",
        ),
        ({"github": {"owner_id": "1"}}, "github.owner_id"),
        ({"name": "acme"}, "name"),
    ):
        refused = deployments.patch("/v1/organisation", json=body, headers=admin)
        assert refused.status_code == 403, refused.json
        assert refused.json["details"][0]["field"] == field
    after = deployments.get("/v1/organisation", headers=admin).json
    assert after["environments"] == ENVS and after["cloud_run_services"] == []


def test_last_admin_cannot_be_removed(deployments, google_headers, register):
    register("acme", members=[{"email": "admin@example.com", "role": "admin"}])
    admin = google_headers("admin@example.com")
    response = deployments.patch(
        "/v1/organisation",
        json={"members": [{"email": "admin@example.com", "role": "deployer"}]},
        headers=admin,
    )
    assert response.status_code == 409 and response.json["code"] == "last_admin"
    response = deployments.patch("/v1/organisation", json={"members": []}, headers=admin)
    assert response.status_code == 409


def test_patch_needs_admin_and_valid_input(deployments, google_headers):
    deployer = google_headers("deployer@example.com")
    assert (
        deployments.patch("/v1/organisation", json={"members": []}, headers=deployer).status_code
        == 403
    )
    admin = google_headers("admin@example.com")
    for body, field in (
        ({"members": [{"email": "x", "role": "admin"}]}, "members.0.email"),
        ({"github": {"rules": [{"repository": "*", "role": "admin"}]}}, "github.rules.0.ref"),
        ({"github": {"rules": "all"}}, "github.rules"),
        ({"colour": "red"}, "colour"),
        ({"members": 3}, "members"),
    ):
        response = deployments.patch("/v1/organisation", json=body, headers=admin)
        assert response.status_code == 400, (body, response.json)
        assert any(d["field"].startswith(field) for d in response.json["details"]), response.json
    assert deployments.patch("/v1/organisation", json={}, headers=admin).status_code == 400
    assert deployments.patch("/v1/organisation", json=[], headers=admin).status_code == 400
