"""Deploy options, key remapping across three tables, undo on failure, dry run, rollback."""

from __future__ import annotations

import pytest

from tests.support.packages import SHOP_TABLES, database, seed, shop, snapshot

SHOP = ("customers", "orders", "order_items")


def make_package(api, headers, dev, data=None, tables=SHOP_TABLES, **filter_extra):
    data = data or shop()
    for table, rows in data.items():
        seed(dev, table, rows)
    response = api.post(
        "/v1/packages",
        headers=headers,
        json={
            "name": "shop",
            "version": "1",
            "package_type": "database",
            "environment": "dev",
            "filter": {"tables": tables, **filter_extra},
        },
    )
    assert response.status_code == 201, response.json
    return response.json["package"]


def deploy(api, headers, package_id, environment="staging", **options):
    return api.post(
        f"/v1/packages/{package_id}/deploy",
        headers=headers,
        json={"environment": environment, "options": options},
    )


def test_deploy_into_an_empty_target_copies_everything(api, headers, dev, staging):
    package = make_package(api, headers, dev)
    response = deploy(api, headers, package["id"])
    assert response.status_code == 200, response.json
    deployment = response.json["deployment"]
    assert deployment["status"] == "completed" and deployment["is_active"] is True
    assert deployment["records_processed"] == 21 == deployment["records_succeeded"]
    assert deployment["records_failed"] == 0 and deployment["records_skipped"] == 0
    assert deployment["tables_processed"] == 3 and deployment["pk_mapping_result"] == {}
    assert snapshot(staging, *SHOP) == snapshot(dev, *SHOP)
    actions = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json
    assert actions["count"] == 2
    assert actions["actions"][0]["action_type"] == "deploy"
    assert actions["actions"][0]["target_environment"] == "staging"
    assert actions["actions"][0]["records_succeeded"] == 21
    listed = api.get(
        "/v1/package-deployments?environment=staging&is_active=true", headers=headers
    ).json
    assert [d["id"] for d in listed["deployments"]] == [deployment["id"]]
    got = api.get(f"/v1/package-deployments/{deployment['id']}", headers=headers).json
    assert got["deployment"]["records_succeeded"] == 21


def test_colliding_keys_are_remapped_and_foreign_keys_rewritten(api, headers, dev, staging):
    package = make_package(api, headers, dev)
    # the target already uses customer 1, order 2 and item 3 for something else
    seed(staging, "customers", {"1": {"id": 1, "name": "someone else"}})
    seed(staging, "orders", {"2": {"id": 2, "customer_id": 1, "total": 999}})
    seed(staging, "order_items", {"3": {"id": 3, "order_id": 2, "sku": "theirs"}})
    before = snapshot(staging, *SHOP)
    response = deploy(api, headers, package["id"])
    assert response.status_code == 200, response.json
    deployment = response.json["deployment"]
    mapping = deployment["pk_mapping_result"]
    assert set(mapping) == {"customers", "orders", "order_items"}
    new_customer = int(mapping["customers"]["1"])
    new_order = int(mapping["orders"]["2"])
    assert new_customer not in range(1, 4) and new_order not in range(1, 7)
    after = snapshot(staging, *SHOP)
    # what the target had is untouched
    for table, docs in before.items():
        for key, fields in docs.items():
            assert after[table][key] == fields
    # customer 1's orders now point at its new key, order 2's items at its new key
    assert after["customers"][str(new_customer)]["name"] == "customer 1"
    assert after["customers"][str(new_customer)]["id"] == new_customer
    assert {o["customer_id"] for o in after["orders"].values() if o["total"] in (10, 20)} == {
        new_customer
    }
    items_of_order_2 = [i for i in after["order_items"].values() if i["sku"] in ("sku-3", "sku-4")]
    assert {i["order_id"] for i in items_of_order_2} == {new_order}
    assert len(after["customers"]) == 4 and len(after["orders"]) == 7
    assert len(after["order_items"]) == 13
    assert deployment["records_succeeded"] == 21


def test_skip_existing_and_update_existing(api, headers, dev, staging):
    package = make_package(api, headers, dev, exclude_columns={"customers": ["password_hash"]})
    seed(staging, "customers", {"1": {"id": 1, "name": "old", "password_hash": "keep"}})
    skipped = deploy(api, headers, package["id"], skip_existing=True).json["deployment"]
    assert skipped["records_skipped"] == 1 and skipped["records_succeeded"] == 20
    assert skipped["records_processed"] == 21
    assert database_doc(staging, "customers", "1") == {
        "id": 1,
        "name": "old",
        "password_hash": "keep",
    }
    updated = deploy(api, headers, package["id"], update_existing=True).json["deployment"]
    assert updated["records_succeeded"] == 21 and updated["records_skipped"] == 0
    # the package row's fields win; a column the package does not carry keeps its value
    assert database_doc(staging, "customers", "1") == {
        "id": 1,
        "name": "customer 1",
        "tier": "gold",
        "password_hash": "keep",
    }
    assert updated["pk_mapping_result"] == {}


def database_doc(db, collection, key):
    return db.collection(collection).document(key).get().to_dict()


def orphan_package(api, headers, dev):
    data = shop(customers=2, orders_per_customer=1, items_per_order=1)
    data["orders"]["99"] = {"id": 99, "customer_id": 42, "total": 1}
    return make_package(api, headers, dev, data=data)


def test_validate_references_fails_the_deploy_and_leaves_the_target_unchanged(
    api, headers, dev, staging
):
    package = orphan_package(api, headers, dev)
    seed(staging, "customers", {"7": {"id": 7, "name": "existing"}})
    before = snapshot(staging, *SHOP)
    response = deploy(api, headers, package["id"], validate_references=True)
    assert response.status_code == 409, response.json
    assert response.json["code"] == "deployment_failed"
    [failure] = response.json["details"]
    assert failure["table"] == "orders" and failure["key"] == "99"
    assert "customer_id" in failure["error"] and "42" in failure["error"]
    assert snapshot(staging, *SHOP) == before
    listed = api.get("/v1/package-deployments", headers=headers).json["deployments"]
    assert listed[0]["status"] == "failed" and listed[0]["is_active"] is False
    action = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json["actions"][0]
    assert action["action_type"] == "deploy" and action["action_status"] == "failed"


def test_validate_references_accepts_parents_already_in_the_target(api, headers, dev, staging):
    package = orphan_package(api, headers, dev)
    seed(staging, "customers", {"42": {"id": 42, "name": "parent in target"}})
    response = deploy(api, headers, package["id"], validate_references=True)
    assert response.status_code == 200, response.json


def test_continue_on_error_writes_what_it_can(api, headers, dev, staging):
    package = orphan_package(api, headers, dev)
    response = deploy(api, headers, package["id"], validate_references=True, continue_on_error=True)
    assert response.status_code == 200, response.json
    deployment = response.json["deployment"]
    assert deployment["status"] == "completed"
    assert deployment["records_failed"] == 1 and deployment["records_succeeded"] == 6
    assert deployment["errors"][0]["key"] == "99"
    assert "99" not in snapshot(staging, "orders")["orders"]


def test_create_missing_creates_the_parent(api, headers, dev, staging):
    package = orphan_package(api, headers, dev)
    response = deploy(api, headers, package["id"], create_missing=True)
    assert response.status_code == 200, response.json
    assert database_doc(staging, "customers", "42") == {"id": 42}
    # rollback removes the created parent too
    deployment_id = response.json["deployment"]["id"]
    assert (
        api.post(f"/v1/package-deployments/{deployment_id}/rollback", headers=headers).status_code
        == 200
    )
    assert snapshot(staging, *SHOP) == {t: {} for t in SHOP}


def test_without_validation_references_are_written_as_they_are(api, headers, dev, staging):
    package = orphan_package(api, headers, dev)
    assert deploy(api, headers, package["id"]).status_code == 200
    assert database_doc(staging, "orders", "99")["customer_id"] == 42
    assert database_doc(staging, "customers", "42") is None


def test_dry_run_reports_and_writes_nothing(api, headers, dev, staging):
    package = make_package(api, headers, dev)
    seed(staging, "customers", {"1": {"id": 1, "name": "taken"}})
    before = snapshot(staging, *SHOP)
    response = deploy(api, headers, package["id"], dry_run=True)
    assert response.status_code == 200, response.json
    deployment = response.json["deployment"]
    assert deployment["dry_run"] is True and deployment["is_active"] is False
    assert deployment["records_processed"] == 21 and "customers" in deployment["pk_mapping_result"]
    assert snapshot(staging, *SHOP) == before
    rollback = api.post(f"/v1/package-deployments/{deployment['id']}/rollback", headers=headers)
    assert rollback.status_code == 409
    failing = deploy(
        api,
        headers,
        orphan_package(api, headers, dev)["id"],
        dry_run=True,
        validate_references=True,
    )
    assert failing.status_code == 200
    assert failing.json["deployment"]["records_failed"] == 1
    assert snapshot(staging, *SHOP) == before


def test_rollback_restores_before_images(api, headers, dev, staging):
    package = make_package(api, headers, dev)
    seed(staging, "customers", {"1": {"id": 1, "name": "old", "extra": True}})
    before = snapshot(staging, *SHOP)
    deployment = deploy(api, headers, package["id"], update_existing=True).json["deployment"]
    assert snapshot(staging, *SHOP) != before
    response = api.post(f"/v1/package-deployments/{deployment['id']}/rollback", headers=headers)
    assert response.status_code == 200, response.json
    rolled = response.json["deployment"]
    assert rolled["status"] == "rolled_back" and rolled["is_active"] is False
    assert rolled["rolled_back_at"] and rolled["rolled_back_by"]
    assert snapshot(staging, *SHOP) == before
    again = api.post(f"/v1/package-deployments/{deployment['id']}/rollback", headers=headers)
    assert again.status_code == 409
    actions = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json["actions"]
    assert actions[0]["action_type"] == "rollback"


def test_a_failure_in_the_middle_of_5000_records_leaves_the_target_unchanged(
    api, headers, dev, staging
):
    rows = {str(n): {"id": n, "name": f"item {n}"} for n in range(1, 5001)}
    rows["2500"]["parent_id"] = 123456  # the one bad reference, half-way
    seed(dev, "items", rows)
    seed(staging, "parents", {"1": {"id": 1}})
    seed(staging, "items", {"9000": {"id": 9000, "name": "keep me"}})
    before = snapshot(staging, "items", "parents")
    package = api.post(
        "/v1/packages",
        headers=headers,
        json={
            "name": "items",
            "version": "1",
            "package_type": "database",
            "environment": "dev",
            "filter": {
                "tables": [
                    {
                        "name": "items",
                        "foreign_keys": [{"column": "parent_id", "references": "parents.id"}],
                    }
                ]
            },
        },
    ).json["package"]
    response = deploy(
        api, headers, package["id"], validate_references=True, transaction_size=200, batch_size=100
    )
    assert response.status_code == 409
    assert response.json["details"][0]["key"] == "2500"
    assert snapshot(staging, "items", "parents") == before


def test_document_packages_never_remap_ids(api, headers, dev, staging):
    seed(dev, "flags", {"checkout": {"on": True, "rules": [{"pct": 10}]}, "search": {"on": False}})
    package = api.post(
        "/v1/packages",
        headers=headers,
        json={
            "name": "flags",
            "version": "1",
            "package_type": "document",
            "environment": "dev",
            "filter": {"collections": ["flags"]},
        },
    ).json["package"]
    seed(staging, "flags", {"search": {"on": True}})
    failed = deploy(api, headers, package["id"])
    assert failed.status_code == 409
    assert "already exists" in failed.json["details"][0]["error"]
    assert snapshot(staging, "flags") == {"flags": {"search": {"on": True}}}
    updated = deploy(api, headers, package["id"], update_existing=True)
    assert updated.status_code == 200
    assert snapshot(staging, "flags") == snapshot(dev, "flags")


@pytest.mark.parametrize(
    "body, words",
    [
        ({"environment": "qa"}, "environment"),
        ({}, "environment"),
        (
            {"environment": "staging", "options": {"skip_existing": True, "update_existing": True}},
            "skip_existing",
        ),
        ({"environment": "staging", "options": {"batch_size": 0}}, "batch_size"),
        ({"environment": "staging", "options": {"batch_size": "10"}}, "batch_size"),
        ({"environment": "staging", "options": {"dry_run": "yes"}}, "dry_run"),
        ({"environment": "staging", "options": {"dryrun": True}}, "dryrun"),
        ({"environment": "staging", "schedule_at": "tomorrow"}, "schedule_at"),
    ],
)
def test_bad_deploy_requests_are_400(api, headers, dev, body, words):
    package = make_package(api, headers, dev)
    response = api.post(f"/v1/packages/{package['id']}/deploy", headers=headers, json=body)
    assert response.status_code == 400, response.json
    assert words in str(response.json)


def test_unknown_package_is_404(api, headers):
    response = deploy(api, headers, "00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404


def test_three_environments_are_isolated(api, headers, dev, project):
    package = make_package(api, headers, dev)
    production = database(project, "production")
    assert deploy(api, headers, package["id"], environment="production").status_code == 200
    assert snapshot(production, *SHOP) == snapshot(dev, *SHOP)
    assert snapshot(database(project, "staging"), *SHOP) == {t: {} for t in SHOP}


def test_text_keys_and_self_references_are_remapped(api, headers, dev, staging):
    data = {
        "categories": {
            "root": {"id": "root", "parent": None},
            "tools": {"id": "tools", "parent": "root"},
            "saws": {"id": "saws", "parent": "tools"},
        }
    }
    tables = [
        {
            "name": "categories",
            "primary_key": "id",
            "foreign_keys": [{"column": "parent", "references": "categories.id"}],
        }
    ]
    package = make_package(api, headers, dev, data=data, tables=tables)
    seed(staging, "categories", {"tools": {"id": "tools", "parent": None, "theirs": True}})
    response = deploy(api, headers, package["id"], validate_references=True)
    assert response.status_code == 200, response.json
    new_key = response.json["deployment"]["pk_mapping_result"]["categories"]["tools"]
    assert new_key.startswith("tools-")
    after = snapshot(staging, "categories")["categories"]
    assert after["tools"] == {"id": "tools", "parent": None, "theirs": True}
    assert after[new_key] == {"id": new_key, "parent": "root"}
    assert after["saws"]["parent"] == new_key


def test_actions_list_counts_and_pages(api, headers, dev):
    package = make_package(api, headers, dev)
    for _ in range(3):
        deploy(api, headers, package["id"], dry_run=True)
    actions = api.get(f"/v1/packages/{package['id']}/actions?limit=2", headers=headers).json
    assert actions["count"] == 2 and len(actions["actions"]) == 2
    everything = api.get(f"/v1/packages/{package['id']}/actions", headers=headers).json
    assert [a["action_type"] for a in everything["actions"]] == ["deploy"] * 3 + ["pack"]
    assert all(
        a["performed_at"] and a["started_at"] and a["completed_at"] for a in everything["actions"]
    )
    assert (
        api.get(f"/v1/packages/{package['id']}/actions?offset=3", headers=headers).json["actions"][
            0
        ]["action_type"]
        == "pack"
    )


@pytest.mark.parametrize(
    "options, status, counts, effects",
    [
        ({}, 200, (7, 0, 0), {"remapped": True, "orphan": True, "parent": False}),
        (
            {"transaction_size": 1, "batch_size": 1},
            200,
            (7, 0, 0),
            {"remapped": True, "orphan": True, "parent": False},
        ),
        ({"skip_existing": True}, 200, (6, 1, 0), {"remapped": False, "orphan": True}),
        ({"update_existing": True}, 200, (7, 0, 0), {"remapped": False, "updated": True}),
        ({"validate_references": True}, 409, None, {"unchanged": True}),
        (
            {"validate_references": True, "continue_on_error": True},
            200,
            (6, 0, 1),
            {"orphan": False},
        ),
        ({"create_missing": True}, 200, (7, 0, 0), {"orphan": True, "parent": True}),
        (
            {"create_missing": True, "validate_references": True},
            200,
            (7, 0, 0),
            {"orphan": True, "parent": True},
        ),
        (
            {"skip_existing": True, "validate_references": True, "continue_on_error": True},
            200,
            (5, 1, 1),
            {"orphan": False, "remapped": False},
        ),
        ({"dry_run": True, "update_existing": True}, 200, (7, 0, 0), {"unchanged": True}),
        ({"dry_run": True, "create_missing": True}, 200, (7, 0, 0), {"unchanged": True}),
    ],
)
def test_option_combinations(api, headers, dev, staging, options, status, counts, effects):
    package = orphan_package(api, headers, dev)
    seed(staging, "customers", {"1": {"id": 1, "name": "old"}})
    before = snapshot(staging, *SHOP)
    response = deploy(api, headers, package["id"], **options)
    assert response.status_code == status, response.json
    after = snapshot(staging, *SHOP)
    if counts:
        deployment = response.json["deployment"]
        assert (
            deployment["records_succeeded"],
            deployment["records_skipped"],
            deployment["records_failed"],
        ) == counts
        assert deployment["records_processed"] == 7
        if not options.get("dry_run"):
            assert deployment["status"] == "completed"
    if effects.get("unchanged"):
        assert after == before
        return
    mapping = response.json["deployment"]["pk_mapping_result"]
    if "remapped" in effects:
        assert ("customers" in mapping) is effects["remapped"]
        if effects["remapped"]:
            new = mapping["customers"]["1"]
            assert after["customers"][new]["name"] == "customer 1"
            assert after["orders"]["1"]["customer_id"] == int(new)
    if "orphan" in effects:
        assert ("99" in after["orders"]) is effects["orphan"]
    if "parent" in effects:
        assert ("42" in after["customers"]) is effects["parent"]
    if effects.get("updated"):
        assert after["customers"]["1"]["name"] == "customer 1"
    else:
        assert after["customers"]["1"]["name"] == "old"
