"""Runbooks: CRUD, text search, and the runbooks a failed deployment points to."""

from __future__ import annotations

from tests.support.governance import WebhookReceiver, drain


def add(deployments, as_, **body):
    response = deployments.post("/v1/runbooks", json=body, headers=as_("deployer"))
    assert response.status_code == 201, response.json
    return response.json


def test_crud_and_roles(deployments, as_):
    body = {
        "title": "Web is down",
        "content": "# Steps\n1. Check the *load balancer*",
        "service": "web",
        "environment": "production",
        "tags": ["sev1", "web"],
    }
    assert deployments.post("/v1/runbooks", json=body, headers=as_("viewer")).status_code == 403
    created = add(deployments, as_, **body)
    assert created["title"] == "Web is down" and created["tags"] == ["sev1", "web"]
    assert created["created_at"] == created["updated_at"]
    url = f"/v1/runbooks/{created['id']}"
    assert deployments.get(url, headers=as_("viewer")).json == created

    replaced = deployments.put(
        url, json={"title": "Web down", "content": "call Bob"}, headers=as_("deployer")
    )
    assert replaced.status_code == 200
    assert replaced.json["service"] is None and replaced.json["tags"] == []
    assert replaced.json["created_at"] == created["created_at"]
    assert replaced.json["updated_at"] > created["updated_at"]

    assert (
        deployments.post("/v1/runbooks", json={"title": "x"}, headers=as_("deployer")).status_code
        == 400
    )
    assert deployments.delete(url, headers=as_("viewer")).status_code == 403
    assert deployments.delete(url, headers=as_("deployer")).status_code == 204
    assert deployments.get(url, headers=as_("viewer")).status_code == 404
    assert deployments.delete(url, headers=as_("deployer")).status_code == 404
    assert deployments.get("/v1/runbooks/not-an-id", headers=as_("viewer")).status_code == 404


def test_search(deployments, as_):
    a = add(
        deployments,
        as_,
        title="Database failover",
        content="Promote the REPLICA first.",
        service="db",
        tags=["sev1"],
    )
    b = add(
        deployments,
        as_,
        title="Cache warm-up",
        content="Run the warm-up job after deploys",
        service="web",
        environment="production",
    )
    c = add(
        deployments,
        as_,
        title="Rollback a release",
        content="Use deployq rollback",
        environment="production",
        tags=["sev1", "release"],
    )

    def ids(query):
        response = deployments.get(f"/v1/runbooks{query}", headers=as_("viewer"))
        assert response.status_code == 200
        return {r["id"] for r in response.json}

    assert ids("") == {a["id"], b["id"], c["id"]}
    assert ids("?q=replica") == {a["id"]}
    assert ids("?q=FAILOVER%20promote") == {a["id"]}
    assert ids("?q=failover%20warm-up") == set()
    assert ids("?q=deploy") == {b["id"], c["id"]}
    assert ids("?service=web") == {b["id"]}
    assert ids("?environment=production") == {b["id"], c["id"]}
    assert ids("?tag=sev1") == {a["id"], c["id"]}
    assert ids("?tag=sev1&q=rollback") == {c["id"]}
    other = as_("admin", org="globex")
    assert deployments.get("/v1/runbooks", headers=other).status_code == 403


def test_failed_deployments_list_matching_runbooks(deployments, as_, create):
    for_web = add(deployments, as_, title="web", content="x", service="web")
    for_prod = add(deployments, as_, title="prod", content="x", environment="production")
    both = add(
        deployments, as_, title="web prod", content="x", service="web", environment="production"
    )
    add(deployments, as_, title="web staging", content="x", service="web", environment="staging")
    add(deployments, as_, title="api", content="x", service="api")
    add(deployments, as_, title="general", content="x")

    record = create("1")
    assert (
        deployments.get(f"/v1/deployments/{record['id']}", headers=as_("viewer")).json["runbooks"]
        is None
    )
    failed = deployments.patch(
        f"/v1/deployments/{record['id']}", json={"status": "failed"}, headers=as_("deployer")
    )
    expected = {for_web["id"], for_prod["id"], both["id"]}
    assert {r["id"] for r in failed.json["runbooks"]} == expected
    got = deployments.get(f"/v1/deployments/{record['id']}", headers=as_("viewer")).json
    assert {r["id"] for r in got["runbooks"]} == expected
    assert {"id", "title", "service", "environment", "tags"} <= set(got["runbooks"][0])


def test_failures_and_rollbacks_are_announced(deployments, db, events, as_, create):
    receiver = WebhookReceiver()
    try:
        assert (
            deployments.put(
                "/v1/settings/notifications",
                json={"slack_webhook_url": receiver.url},
                headers=as_("approver"),
            ).status_code
            == 403
        )
        response = deployments.put(
            "/v1/settings/notifications",
            json={"slack_webhook_url": receiver.url},
            headers=as_("admin"),
        )
        assert response.status_code == 200
        assert (
            deployments.get("/v1/settings/notifications", headers=as_("admin")).json[
                "slack_webhook_url"
            ]
            == receiver.url
        )
        first, second = create("1"), create("2")
        for record in (first, second):
            deployments.patch(
                f"/v1/deployments/{record['id']}",
                json={"status": "deployed"},
                headers=as_("deployer"),
            )
        broken = create("3")
        deployments.patch(
            f"/v1/deployments/{broken['id']}",
            json={"status": "failed", "notes": "pods crash-looping"},
            headers=as_("deployer"),
        )
        rollback = deployments.post(
            f"/v1/deployments/{second['id']}/rollback", headers=as_("deployer")
        ).json
        deployments.patch(
            f"/v1/deployments/{rollback['id']}",
            json={"status": "deployed"},
            headers=as_("deployer"),
        )
        drain(db, events)
        drain(db, events)  # a redelivery announces nothing twice
        texts = [m["text"] for m in receiver.received]
        assert len(texts) == 3, texts
        assert any("failed" in t and "pods crash-looping" in t and "web 3" in t for t in texts)
        assert any("rollback of web in production to version 1" in t for t in texts)
        assert any("rolled back" in t and second["id"] in t for t in texts)
    finally:
        receiver.close()


def test_search_finds_every_match_among_thousands(deployments, as_, db):
    """Search and filters return every match, past the first 2,000 runbooks read."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.auth import Principal
    from shared.schemas.governance import RunbookBody
    from shared.store.runbooks import RunbookStore

    store = RunbookStore(db)
    author = Principal("google", "deployer", "acme", "deployer", actor="deployer@example.com")

    def create(i: int) -> str:
        content = f"Step {i}: restart the needle service" if i % 2 else f"Step {i}: nothing here"
        body = RunbookBody(title=f"Runbook {i}", content=content, tags=["bulk"])
        return store.create("acme", body, author)["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(create, range(2_101)))
    needles = {rid for i, rid in enumerate(created) if i % 2}

    def ids(query):
        response = deployments.get(f"/v1/runbooks{query}", headers=as_("viewer"))
        assert response.status_code == 200
        return {r["id"] for r in response.json}

    assert ids("?q=NEEDLE%20restart") == needles and len(needles) == 1_050
    assert ids("?tag=bulk") == set(created)
    assert ids("?q=needle&tag=bulk") == needles
    assert (
        "search_grams"
        not in deployments.get(f"/v1/runbooks/{created[1]}", headers=as_("viewer")).json
    )


def test_search_finds_runbooks_written_before_the_index(deployments, as_, db):
    """A runbook stored without the search index (as before it existed) is found by `q`."""
    import uuid

    from shared.store.runbooks import RunbookStore

    old_id = str(uuid.uuid4())
    old = {
        "id": old_id,
        "title": "Database failover",
        "content": "Promote the replica, then repoint the service.",
        "service": "web",
        "environment": None,
        "tags": ["db"],
        "created_at": "2025-06-01T00:00:00.000000Z",
        "updated_at": "2025-06-01T00:00:00.000000Z",
        "created_by": "lead@example.com",
    }
    runbooks = db.collection("organisations").document("acme").collection("runbooks")
    runbooks.document(old_id).set(old)
    created = deployments.post(
        "/v1/runbooks",
        json={"title": "Cache flush", "content": "Flush the replica cache."},
        headers=as_("deployer"),
    )
    assert created.status_code == 201

    def ids(q: str) -> list[str]:
        response = deployments.get(f"/v1/runbooks?q={q}", headers=as_("viewer"))
        assert response.status_code == 200, response.json
        return sorted(r["id"] for r in response.json)

    assert ids("FAILOVER") == [old_id]
    assert ids("replica") == sorted([old_id, created.json["id"]])
    assert ids("replica%20repoint") == [old_id]
    shown = deployments.get(f"/v1/runbooks/{old_id}", headers=as_("viewer")).json
    assert shown == old
    # Indexed once: the next search finds nothing left to index.
    assert RunbookStore(db).index_missing("acme") == 0
