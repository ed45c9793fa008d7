"""Generate (JSON, ZIP), import (JSON body, ZIP upload), checksums, a 50,000-record package."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from tests.integration.packages.test_deploy import SHOP, make_package
from tests.support.packages import seed, snapshot


def generate(api, headers, package_id, fmt="json"):
    response = api.post(
        f"/v1/packages/{package_id}/generate", headers=headers, json={"format": fmt}
    )
    assert response.status_code == 200, response.data[:300]
    return response


def contents_checksum(file_object: dict) -> str:
    key = "database_data" if file_object["package_type"] == "database" else "document_data"
    text = json.dumps(file_object[key], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_generate_json_holds_the_package_and_its_contents(api, headers, dev):
    package = make_package(api, headers, dev)
    response = generate(api, headers, package["id"])
    assert response.mimetype == "application/json"
    assert "shop-v1.json" in response.headers["Content-Disposition"]
    data = response.json
    assert {k: data[k] for k in ("id", "name", "version", "package_type", "checksum")} == {
        k: package[k] for k in ("id", "name", "version", "package_type", "checksum")
    }
    tables = {t["name"]: t for t in data["database_data"]["tables"]}
    assert len(tables["order_items"]["rows"]) == 12
    assert tables["orders"]["foreign_keys"] == [
        {"column": "customer_id", "references": "customers.id"}
    ]
    assert contents_checksum(data) == package["checksum"]
    assert data["size_bytes"] == len(
        json.dumps(data["database_data"], sort_keys=True, separators=(",", ":")).encode()
    )
    actions = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json["actions"]
    assert actions[0]["action_type"] == "generate"


def test_generate_zip_and_import_it(api, headers, dev, staging):
    package = make_package(api, headers, dev)
    response = generate(api, headers, package["id"], "zip")
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["metadata.json", "shop-v1.json"]
    meta = json.loads(archive.read("metadata.json"))
    assert meta["checksum"] == package["checksum"] and meta["package_type"] == "database"
    imported = api.post(
        "/v1/packages/import?environment=staging",
        data=response.data,
        headers={**headers, "Content-Type": "application/zip"},
    )
    assert imported.status_code == 201, imported.json
    copy = imported.json["package"]
    assert copy["id"] != package["id"]
    assert (copy["name"], copy["version"], copy["checksum"]) == (
        package["name"],
        package["version"],
        package["checksum"],
    )
    deployed = api.post(
        f"/v1/packages/{copy['id']}/deploy", headers=headers, json={"environment": "staging"}
    )
    assert deployed.status_code == 200
    assert snapshot(staging, *SHOP) == snapshot(dev, *SHOP)
    actions = api.get(f"/v1/packages/{copy['id']}/actions", headers=headers).json["actions"]
    assert [a["action_type"] for a in actions] == ["deploy", "import"]


def test_import_json_body_round_trips_typed_values(api, headers, dev, staging):
    moment = datetime(2025, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    seed(
        dev,
        "catalogue",
        {
            "a": {
                "when": moment,
                "blob": b"\x00\x01",
                "tags": ["x"],
                "nested": {"price": 1.5},
                "none": None,
            }
        },
    )
    package = api.post(
        "/v1/packages",
        headers=headers,
        json={
            "name": "cat",
            "version": "2",
            "package_type": "document",
            "environment": "dev",
            "filter": {"collections": ["catalogue"]},
        },
    ).json["package"]
    data = generate(api, headers, package["id"]).json
    imported = api.post(
        "/v1/packages/import", headers=headers, json={"package_data": data, "environment": "dev"}
    )
    assert imported.status_code == 201, imported.json
    assert imported.json["package"]["checksum"] == package["checksum"]
    assert (
        api.post(
            f"/v1/packages/{imported.json['package']['id']}/deploy",
            headers=headers,
            json={"environment": "staging"},
        ).status_code
        == 200
    )
    assert snapshot(staging, "catalogue") == snapshot(dev, "catalogue")


def test_tampered_contents_fail_the_checksum(api, headers, dev):
    package = make_package(api, headers, dev)
    data = generate(api, headers, package["id"]).json
    data["database_data"]["tables"][0]["rows"][0]["name"] = "mallory"
    response = api.post("/v1/packages/import", headers=headers, json={"package_data": data})
    assert response.status_code == 400 and "checksum" in response.json["error"]
    assert api.get("/v1/packages", headers=headers).json["count"] == 1


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d.pop("database_data"), "database_data"),
        (lambda d: d.update(package_type="blob"), "package_type"),
        (lambda d: d.update(name=""), "name"),
        (lambda d: d["database_data"]["tables"][0]["rows"].append({"name": "no key"}), "rows"),
        (lambda d: d["database_data"]["tables"][0].update(rows="x"), "rows"),
        (
            lambda d: d["database_data"]["tables"][1]["foreign_keys"].append({"column": "x"}),
            "foreign_keys",
        ),
    ],
)
def test_malformed_packages_are_400_naming_the_problem(api, headers, dev, mutate, words):
    package = make_package(api, headers, dev)
    data = generate(api, headers, package["id"]).json
    mutate(data)
    response = api.post("/v1/packages/import", headers=headers, json={"package_data": data})
    assert response.status_code == 400, response.json
    assert words in response.json["error"]


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"not a zip", "application/zip"),
        (b"{", "application/json"),
        (b'{"package_data": 5}', "application/json"),
        (b"x", "text/csv"),
    ],
)
def test_bad_import_bodies_are_4xx(api, headers, body, content_type):
    response = api.post(
        "/v1/packages/import", data=body, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code in (400, 415), response.json


def test_zip_without_the_package_file_is_400(api, headers):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", "{}")
    response = api.post(
        "/v1/packages/import",
        data=buffer.getvalue(),
        headers={**headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 400 and "ZIP" in response.json["error"]


def test_bad_generate_format_is_400(api, headers, dev):
    package = make_package(api, headers, dev)
    response = api.post(
        f"/v1/packages/{package['id']}/generate", headers=headers, json={"format": "xml"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"where_clause": {"customers": "id = 1"}}, "where_clause"),
        ({"tables": ["customers"], "format": "zip"}, "tables"),
        ({"collections": ["flags"]}, "collections"),
    ],
)
def test_generate_never_quietly_writes_less_than_asked(api, headers, dev, body, field):
    package = make_package(api, headers, dev)
    url = f"/v1/packages/{package['id']}/generate"
    response = api.post(url, headers=headers, json=body)
    assert response.status_code == 400
    assert response.json["code"] == "subset_not_supported"
    assert response.json["details"][0]["field"] == field
    whole = api.post(url, headers=headers, json={"tables": [], "where_clause": {}})
    assert whole.status_code == 200


def test_a_50000_record_package_packs_in_chunks_and_generates(api, headers, dev, staging, project):
    from shared.store import firestore as fs
    from shared.store.packages import PackageStore

    rows = {
        str(n): {"id": n, "sku": f"sku-{n:06d}", "price": n / 100, "active": n % 3 > 0}
        for n in range(1, 50_001)
    }
    seed(dev, "prices", rows)
    response = api.post(
        "/v1/packages",
        headers=headers,
        json={
            "name": "prices",
            "version": "2025.1",
            "package_type": "database",
            "environment": "dev",
            "filter": {"tables": ["prices"]},
        },
    )
    assert response.status_code == 201
    package = response.json["package"]
    assert package["metadata"]["total_records"] == 50_000
    store = PackageStore(fs.client(project))
    chunks = list(store.package_ref("acme", package["id"]).collection("chunks").stream())
    assert len(chunks) > 4
    assert max(len(c.get("text") or c.get("data")) for c in chunks) < 900 * 1024
    data = generate(api, headers, package["id"]).json
    assert len(data["database_data"]["tables"][0]["rows"]) == 50_000
    assert contents_checksum(data) == package["checksum"]


def import_one_refused_document(api, headers) -> str:
    """A 30-document package whose document d025 a Firestore target refuses (a field
    without a name); its id."""
    documents = [{"id": f"d{n:03d}", "data": {"n": n}} for n in range(30)]
    documents[25]["data"] = {"": "a field without a name"}
    contents = {"collections": [{"name": "flags", "documents": documents}]}
    package = {"name": "odd", "version": "1", "package_type": "document"}
    response = api.post(
        "/v1/packages/import",
        headers=headers,
        json={"package_data": {**package, "document_data": contents}},
    )
    assert response.status_code == 201, response.json
    return response.json["package"]["id"]


def test_a_document_the_target_refuses_fails_the_deploy_cleanly(api, headers, staging):
    package_id = import_one_refused_document(api, headers)
    deployed = api.post(
        f"/v1/packages/{package_id}/deploy",
        headers=headers,
        json={"environment": "staging", "options": {"transaction_size": 10}},
    )
    assert deployed.status_code == 409, deployed.json
    assert "refused" in str(deployed.json["details"])
    assert snapshot(staging, "flags") == {"flags": {}}


def test_with_continue_on_error_only_the_refused_document_fails(api, headers, staging):
    package_id = import_one_refused_document(api, headers)
    deployed = api.post(
        f"/v1/packages/{package_id}/deploy",
        headers=headers,
        json={
            "environment": "staging",
            "options": {"transaction_size": 10, "continue_on_error": True},
        },
    )
    assert deployed.status_code in (200, 201), deployed.json
    deployment = deployed.json["deployment"]
    assert deployment["status"] == "completed"
    assert deployment["records_processed"] == 30
    assert deployment["records_succeeded"] == 29 and deployment["records_failed"] == 1
    [error] = deployment["errors"]
    assert error["table"] == "flags" and error["key"] == "d025" and "refused" in error["error"]
    written = snapshot(staging, "flags")["flags"]
    assert set(written) == {f"d{n:03d}" for n in range(30)} - {"d025"}
    rolled = api.post(f"/v1/package-deployments/{deployment['id']}/rollback", headers=headers)
    assert rolled.status_code == 200, rolled.json
    assert snapshot(staging, "flags") == {"flags": {}}


def test_contents_with_infinity_are_400(api, headers):
    body = (
        '{"package_data": {"name": "n", "version": "1", "package_type": "document", '
        '"document_data": {"collections": [{"name": "c", "documents": '
        '[{"id": "a", "data": {"x": 1e999}}]}]}}}'
    )
    response = api.post(
        "/v1/packages/import", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.json
