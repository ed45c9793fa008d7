"""Packages act only on the caller organisation's granted environments."""

from __future__ import annotations

from tests.conftest import VIEWER_EMAIL
from tests.integration.packages.test_deploy import make_package
from tests.support import organisations
from tests.support.packages import SHOP_TABLES, database, seed, shop, snapshot

PACK = {
    "name": "shop",
    "version": "1",
    "package_type": "database",
    "environment": "dev",
    "filter": {"tables": SHOP_TABLES},
}


def bearer(identity, owner):
    return {"Authorization": f"Bearer {identity.github_token(owner)}"}


def assert_unknown(response, names_shown):
    """400 unknown_environment whose list names exactly the caller's own environments."""
    assert response.status_code == 400, response.json
    assert response.json["code"] == "unknown_environment"
    listed = response.json["error"].rsplit("(this organisation's: ", 1)[1].rstrip(")")
    if names_shown:
        assert listed.split(", ") == list(names_shown)
    else:
        assert listed == "none granted to this organisation"


def test_a_free_github_owner_has_no_environments(api, identity, dev):
    seed(dev, "customers", shop()["customers"])
    freebie = bearer(identity, "freebie")
    assert_unknown(api.post("/v1/packages", json=PACK, headers=freebie), ())
    file_object = {
        "name": "x",
        "version": "1",
        "package_type": "document",
        "document_data": {"collections": []},
    }
    imported = api.post(
        "/v1/packages/import",
        json={"package_data": file_object, "environment": "dev"},
        headers=freebie,
    )
    assert_unknown(imported, ())
    # The queue is theirs all the same.
    assert api.get("/v1/packages", headers=freebie).status_code == 200


def test_same_environment_name_is_another_database_per_organisation(
    api, identity, headers, project, dev
):
    data = shop()
    for table, rows in data.items():
        seed(dev, table, rows)
    globex_dev = database(project, "globex-dev")
    organisations.register(
        project, "globex", environments={"dev": {"project": project, "database": "globex-dev"}}
    )
    globex = bearer(identity, "globex")
    # Globex's "dev" is its own database: packing it reads none of acme's rows.
    packed = api.post("/v1/packages", json=PACK, headers=globex)
    assert packed.status_code == 201, packed.json
    assert packed.json["package"]["metadata"]["total_records"] == 0
    # Acme's other environments do not exist for globex, and its errors list only its own.
    package_id = packed.json["package"]["id"]
    deploy = api.post(
        f"/v1/packages/{package_id}/deploy", json={"environment": "production"}, headers=globex
    )
    assert_unknown(deploy, ("dev",))
    assert "dev" in deploy.json["error"]
    file_object = {
        "name": "x",
        "version": "1",
        "package_type": "document",
        "document_data": {"collections": []},
    }
    imported = api.post(
        "/v1/packages/import",
        json={"package_data": file_object, "environment": "staging"},
        headers=globex,
    )
    assert_unknown(imported, ("dev",))
    # Deploying into "dev" as globex writes globex's database, never acme's.
    before = snapshot(dev, "customers", "orders", "order_items")
    acme_package = make_package(api, headers, dev)
    generated = api.post(
        f"/v1/packages/{acme_package['id']}/generate", json={"format": "json"}, headers=globex
    )
    assert generated.status_code == 404
    body = {
        "package_data": api.post(
            f"/v1/packages/{acme_package['id']}/generate", json={"format": "json"}, headers=headers
        ).json
    }
    imported = api.post("/v1/packages/import", json=body, headers=globex)
    assert imported.status_code == 201, imported.json
    new_id = imported.json["package"]["id"]
    done = api.post(f"/v1/packages/{new_id}/deploy", json={"environment": "dev"}, headers=globex)
    assert done.status_code in (200, 201), done.json
    assert snapshot(dev, "customers", "orders", "order_items") == before
    assert len(snapshot(globex_dev, "customers")["customers"]) == len(data["customers"])


def test_generate_needs_deployer(api, headers, google_headers, dev):
    package = make_package(api, headers, dev)
    viewer = google_headers(VIEWER_EMAIL)
    response = api.post(
        f"/v1/packages/{package['id']}/generate", json={"format": "json"}, headers=viewer
    )
    assert response.status_code == 403
