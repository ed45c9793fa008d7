"""Packages CRUD, pack filters, envelopes, tenancy and bad input, against the Firestore emulator."""

from __future__ import annotations

import pytest

from tests.conftest import VIEWER_EMAIL
from tests.support.openapi import unresolved_refs
from tests.support.packages import SHOP_TABLES, seed, shop


def create(api, headers, **overrides):
    body = {
        "name": "shop",
        "version": "1.0.0",
        "package_type": "database",
        "environment": "dev",
        "filter": {"tables": SHOP_TABLES},
    }
    body.update(overrides)
    return api.post("/v1/packages", json=body, headers=headers)


@pytest.fixture
def seeded(dev):
    data = shop()
    for table, rows in data.items():
        seed(dev, table, rows)
    return data


def test_create_packs_the_selection_with_counts_checksum_and_a_pack_action(api, headers, seeded):
    response = create(api, headers, metadata={"team": "billing"}, tags=["pricing"])
    assert response.status_code == 201, response.json
    package = response.json["package"]
    assert response.json["message"]
    assert package["status"] == "active" and package["active"] is True
    assert package["environment"] == "dev"
    assert package["metadata"]["team"] == "billing"
    assert package["metadata"]["record_counts"] == {"customers": 3, "orders": 6, "order_items": 12}
    assert package["metadata"]["total_records"] == 21
    assert len(package["checksum"]) == 64 and package["size_bytes"] > 0

    got = api.get(f"/v1/packages/{package['id']}", headers=headers).json
    assert got["package"]["checksum"] == package["checksum"]
    assert "database_data" not in got["package"]
    assert [a["action_type"] for a in got["recent_actions"]] == ["pack"]
    action = got["recent_actions"][0]
    assert action["records_processed"] == 21 and action["tables_processed"] == 3
    assert action["source_environment"] == "dev"
    assert action["duration_seconds"] >= 0


def test_same_contents_same_checksum_whatever_the_name(api, headers, seeded):
    first = create(api, headers).json["package"]
    second = create(api, headers, name="other", version="9").json["package"]
    assert first["checksum"] == second["checksum"]
    assert first["size_bytes"] == second["size_bytes"]


def test_where_string_and_exclude_columns(api, headers, seeded):
    response = create(
        api,
        headers,
        filter={
            "tables": SHOP_TABLES,
            "where_clause": {
                "customers": "tier = 'gold' AND id >= 1",
                "orders": [["total", ">", 30]],
            },
            "exclude_columns": {"customers": ["password_hash"]},
        },
    )
    assert response.status_code == 201, response.json
    package = response.json["package"]
    assert package["metadata"]["record_counts"] == {"customers": 2, "orders": 3, "order_items": 12}
    text = api.post(f"/v1/packages/{package['id']}/generate", headers=headers).get_data(
        as_text=True
    )
    assert "password_hash" not in text and "secret" not in text


@pytest.mark.parametrize(
    "clause, words",
    [
        ("tier = 'gold'; DROP TABLE x", "cannot read"),
        ("tier = gold", "literal"),
        ("tier LIKE 'g%'", "operator"),
        ("__import__('os').system('true')", "cannot read"),
        ("tier = 'gold' OR id = 1", "AND"),
        ("tier = 'unterminated", "cannot read"),
        ("", "empty"),
    ],
)
def test_bad_where_clause_is_400_naming_it(api, headers, seeded, clause, words):
    response = create(
        api, headers, filter={"tables": SHOP_TABLES, "where_clause": {"customers": clause}}
    )
    assert response.status_code == 400, response.json
    assert "where_clause.customers" in response.json["error"]
    assert words.lower() in response.json["error"].lower()


def test_structured_where_with_unknown_operator_is_400(api, headers, seeded):
    response = create(
        api,
        headers,
        filter={"tables": SHOP_TABLES, "where_clause": {"customers": [["id", "~", 1]]}},
    )
    assert response.status_code == 400
    assert "where_clause.customers" in response.json["error"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"environment": "qa"}, "environment"),
        ({"name": None}, "name"),
        ({"package_type": "spreadsheet"}, "package_type"),
        ({"filter": {"collections": ["x"]}}, "tables"),
        ({"filter": {"tables": ["__secret__"]}}, "reserved"),
        ({"filter": {"tables": ["a/b"]}}, "filter.tables"),
        ({"filter": {"tables": ["customers"], "where_clause": {"orders": "id = 1"}}}, "orders"),
        (
            {"filter": {"tables": ["customers"], "exclude_columns": {"customers": ["id"]}}},
            "primary key",
        ),
    ],
)
def test_bad_create_is_400_naming_the_problem(api, headers, seeded, overrides, field):
    response = create(api, headers, **overrides)
    assert response.status_code == 400, response.json
    assert field in str(response.json)


def test_list_filters_limit_offset_and_soft_delete(api, headers, seeded):
    ids = [create(api, headers, version=str(n)).json["package"]["id"] for n in range(3)]
    listed = api.get("/v1/packages?limit=2", headers=headers).json
    assert listed["count"] == 2 and listed["limit"] == 2 and listed["offset"] == 0
    assert [p["id"] for p in listed["packages"]] == [ids[2], ids[1]]
    assert [
        p["id"] for p in api.get("/v1/packages?offset=2", headers=headers).json["packages"]
    ] == [ids[0]]
    assert api.get("/v1/packages?package_type=document", headers=headers).json["count"] == 0
    assert api.get("/v1/packages?environment=dev", headers=headers).json["count"] == 3

    response = api.delete(f"/v1/packages/{ids[1]}", headers=headers)
    assert response.status_code == 200
    assert response.json == {"message": response.json["message"], "package_id": ids[1]}
    remaining = [p["id"] for p in api.get("/v1/packages", headers=headers).json["packages"]]
    assert remaining == [ids[2], ids[0]]
    deleted = api.get("/v1/packages?status=deleted", headers=headers).json["packages"]
    assert [p["id"] for p in deleted] == [ids[1]] and deleted[0]["active"] is False
    assert api.post(f"/v1/packages/{ids[1]}/generate", headers=headers).status_code == 409
    assert (
        api.post(
            f"/v1/packages/{ids[1]}/deploy", json={"environment": "staging"}, headers=headers
        ).status_code
        == 409
    )

    for query in ("limit=0", "limit=1001", "offset=-1", "limit=x"):
        assert api.get(f"/v1/packages?{query}", headers=headers).status_code == 400


def test_update_changes_only_descriptive_fields(api, headers, seeded):
    package = create(api, headers).json["package"]
    response = api.put(
        f"/v1/packages/{package['id']}",
        headers=headers,
        json={
            "description": "prices",
            "status": "archived",
            "tags": ["a"],
            "metadata": {"k": 1},
            "checksum": "0" * 64,
        },
    )
    assert response.status_code == 200
    assert response.json == {"message": "Package updated successfully", "package_id": package["id"]}
    got = api.get(f"/v1/packages/{package['id']}", headers=headers).json["package"]
    assert got["description"] == "prices" and got["status"] == "archived"
    assert got["tags"] == ["a"] and got["metadata"]["k"] == 1
    assert got["metadata"]["total_records"] == 21
    assert got["checksum"] == package["checksum"]
    assert (
        api.put(
            f"/v1/packages/{package['id']}", headers=headers, json={"checksum": "x"}
        ).status_code
        == 400
    )
    assert (
        api.put(
            f"/v1/packages/{package['id']}", headers=headers, json={"status": "deleted"}
        ).status_code
        == 400
    )


def test_tenancy_roles_and_unknown_ids(api, headers, google_headers, seeded, gh):
    package = create(api, headers).json["package"]
    other = google_headers(org="globex")
    # admin@ has no access to globex at all
    assert api.get(f"/v1/packages/{package['id']}", headers=other).status_code in (403, 404)
    assert api.get(f"/v1/packages/{package['id']}", headers=gh).status_code == 200
    viewer = google_headers(VIEWER_EMAIL)
    assert api.get("/v1/packages", headers=viewer).status_code == 200
    assert create(api, viewer).status_code == 403
    assert api.delete(f"/v1/packages/{package['id']}", headers=viewer).status_code == 403
    assert api.get("/v1/packages").status_code == 401
    for path in (
        "/v1/packages/nope",
        "/v1/packages/00000000-0000-4000-8000-000000000000",
        "/v1/package-deployments/nope",
        "/v1/jobs/nope",
        "/v1/packages/nope/actions",
    ):
        response = api.get(path, headers=headers)
        assert response.status_code == 404 and response.json["code"] == "not_found"


def test_other_organisation_sees_404(api, identity, seeded):
    from tests.conftest import AUDIENCE

    mine = {"Authorization": f"Bearer {identity.github_token('acme')}"}
    theirs = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    package = create(api, mine).json["package"]
    assert api.get(f"/v1/packages/{package['id']}", headers=theirs).status_code == 404
    assert api.get("/v1/packages", headers=theirs).json["count"] == 0
    assert AUDIENCE


def test_health_and_openapi(api):
    assert api.get("/health").json == {"status": "healthy"}
    spec = api.get("/openapi.json").json
    assert unresolved_refs(spec) == []
    paths = spec["paths"]
    assert "/v1/packages/{package_id}/deploy" in paths and "/v1/jobs/{job_id}" in paths
