"""The deployment queue through the real entry point and the Firestore emulator."""

import pytest

from tests.conftest import DEPLOYER_EMAIL, VIEWER_EMAIL
from tests.support.openapi import unresolved_refs

TAXONOMY = {"name": "api", "provider": "gcp", "cloud_account_id": "proj-1", "region": "eu-west1"}


def new(client, headers, version, **fields):
    body = {**TAXONOMY, "version": version, "type": "k8s", **fields}
    response = client.post("/v1/deployments", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def patch(client, headers, deployment_id, **body):
    return client.patch(f"/v1/deployments/{deployment_id}", json=body, headers=headers)


def status(client, headers, deployment_id):
    return client.get(f"/v1/deployments/{deployment_id}", headers=headers).json["status"]


def test_health_and_openapi(deployments):
    assert deployments.get("/health").json == {"status": "healthy"}
    spec = deployments.get("/openapi.json").json
    assert unresolved_refs(spec) == []
    assert spec["openapi"].startswith("3.")
    assert {
        "/v1/deployments",
        "/v1/deployments/{deployment_id}",
        "/v1/deployments/claim",
        "/v1/deployments/rollback",
        "/v1/deployments/{deployment_id}/rollback",
    } <= set(spec["paths"])
    schema = spec["components"]["schemas"]["DeploymentCreate"]
    assert set(schema["required"]) == {"name", "version", "provider", "type"}
    assert spec["components"]["schemas"]["Status"]["enum"]


def test_create_takes_identity_from_the_token(deployments, gh):
    record = new(
        deployments,
        gh,
        "1.0.0",
        id="mine",
        organisation="evil",
        status="deployed",
        trigger="rollback",
        created_by_actor="mallory",
        environment="production",
        commit_timestamp="2026-01-01T10:00:00Z",
        pipeline_extra_params='{"a": 1}',
    )
    assert record["organisation"] == "acme"
    assert record["status"] == "scheduled" and record["trigger"] == "auto"
    assert record["id"] != "mine" and len(record["id"]) == 36
    assert record["created_by_actor"] == "octocat"
    assert record["created_by_repo"] == "acme/app" and record["created_by_workflow"] == "deploy"
    assert record["commit_timestamp"] == "2026-01-01T10:00:00.000000Z"
    assert record["pipeline_extra_params"] == '{"a": 1}'
    assert record["created_at"].endswith("Z") and len(record["created_at"]) == 27
    manual = new(deployments, gh, "1.0.1", auto=False)
    assert manual["trigger"] == "manual"
    assert deployments.get(f"/v1/deployments/{record['id']}", headers=gh).json == record


def test_absent_taxonomy_fields_are_null(deployments, gh):
    body = {"name": "cli-made", "version": "1", "provider": "aws", "type": "terraform"}
    record = deployments.post("/v1/deployments", json=body, headers=gh).json
    assert record["cloud_account_id"] is None and record["region"] is None
    assert record["environment"] is None and record["cell"] is None


def test_tenants_never_see_each_other(deployments, gh, identity):
    record = new(deployments, gh, "1")
    other = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    response = deployments.get(f"/v1/deployments/{record['id']}", headers=other)
    assert response.status_code == 404 and response.json["code"] == "not_found"
    assert deployments.get("/v1/deployments", headers=other).json == []
    assert patch(deployments, other, record["id"], status="deployed").status_code == 404
    assert (
        deployments.post(f"/v1/deployments/{record['id']}/rollback", headers=other).status_code
        == 404
    )


def test_list_filters_order_and_pages(deployments, gh):
    made = [
        new(
            deployments,
            gh,
            str(i),
            environment="staging" if i % 2 else "production",
            cell="c1" if i < 3 else None,
        )
        for i in range(7)
    ]
    listed = deployments.get("/v1/deployments", headers=gh).json
    assert [d["id"] for d in listed] == [d["id"] for d in reversed(made)]
    staging = deployments.get("/v1/deployments?environment=staging", headers=gh).json
    assert {d["version"] for d in staging} == {"1", "3", "5"}
    no_cell = deployments.get("/v1/deployments?cell=", headers=gh).json
    assert {d["version"] for d in no_cell} == {"3", "4", "5", "6"}
    both = deployments.get("/v1/deployments?cell=c1&environment=production", headers=gh).json
    assert {d["version"] for d in both} == {"0", "2"}
    seen, token, pages = [], None, 0
    while True:
        url = "/v1/deployments?limit=3" + (f"&page_token={token}" if token else "")
        response = deployments.get(url, headers=gh)
        seen += [d["id"] for d in response.json]
        pages += 1
        token = response.headers.get("X-Next-Page-Token")
        if not token:
            break
    assert seen == [d["id"] for d in reversed(made)] and pages == 3
    assert deployments.get("/v1/deployments?status=deployed", headers=gh).json == []


def test_patch_rules(deployments, gh):
    record = new(deployments, gh, "1")
    assert patch(deployments, gh, record["id"]).status_code == 400
    assert (
        deployments.patch(f"/v1/deployments/{record['id']}", json={}, headers=gh).status_code == 400
    )
    response = patch(deployments, gh, record["id"], version="2")
    assert response.status_code == 400 and response.json["details"][0]["field"] == "version"
    response = patch(
        deployments,
        gh,
        record["id"],
        status="in_progress",
        notes="rolling",
        deployment_uri="https://ci/run/1",
    )
    assert response.status_code == 200
    assert (response.json["status"], response.json["notes"], response.json["deployment_uri"]) == (
        "in_progress",
        "rolling",
        "https://ci/run/1",
    )
    again = patch(deployments, gh, record["id"], status="in_progress")
    assert again.status_code == 200 and again.json["updated_at"] == response.json["updated_at"]
    response = patch(deployments, gh, record["id"], status="skipped")
    assert response.status_code == 409 and response.json["code"] == "invalid_transition"
    assert patch(deployments, gh, record["id"], status="deployed").json["deployed_at"]
    response = patch(deployments, gh, record["id"], status="rolled_back")
    assert response.status_code == 409 and "only deployq" in response.json["error"]
    assert patch(deployments, gh, record["id"], notes="post-deploy check ok").status_code == 200


def test_deployed_skips_older_scheduled_of_the_same_taxonomy_only(deployments, gh):
    old1 = new(deployments, gh, "1", environment="staging")
    old2 = new(deployments, gh, "2", environment="production")
    running = new(deployments, gh, "3")
    patch(deployments, gh, running["id"], status="in_progress")
    other_cell = new(deployments, gh, "4", cell="blue")
    other_name = new(deployments, gh, "4", name="worker")
    winner = new(deployments, gh, "5")
    newer = new(deployments, gh, "6")
    assert patch(deployments, gh, winner["id"], status="deployed").status_code == 200
    for skipped in (old1, old2):
        record = deployments.get(f"/v1/deployments/{skipped['id']}", headers=gh).json
        assert record["status"] == "skipped"
        assert winner["id"] in record["notes"]
    assert status(deployments, gh, running["id"]) == "in_progress"
    assert status(deployments, gh, other_cell["id"]) == "scheduled"
    assert status(deployments, gh, other_name["id"]) == "scheduled"
    assert status(deployments, gh, newer["id"]) == "scheduled"


def test_auto_skip_compares_null_with_null(deployments, gh):
    bare = {"name": "job", "provider": "gcp", "type": "data_pipeline"}
    first = deployments.post("/v1/deployments", json={**bare, "version": "1"}, headers=gh).json
    with_region = deployments.post(
        "/v1/deployments", json={**bare, "version": "2", "region": "eu"}, headers=gh
    ).json
    second = deployments.post("/v1/deployments", json={**bare, "version": "3"}, headers=gh).json
    patch(deployments, gh, second["id"], status="deployed")
    assert status(deployments, gh, first["id"]) == "skipped"
    assert status(deployments, gh, with_region["id"]) == "scheduled"


def test_auto_skip_of_more_than_one_commit(deployments, gh, base_env):
    from shared.auth import Principal
    from shared.deployments.rules import new_record
    from shared.store import firestore as fs
    from shared.store.deployments import DeploymentStore

    store = DeploymentStore(fs.client(base_env["GOOGLE_CLOUD_PROJECT"]))
    principal = Principal("local", "t", "acme", "admin")
    batch = store.db.batch()
    for i in range(450):
        record = new_record("acme", {**TAXONOMY, "version": f"old-{i}", "type": "k8s"}, principal)
        store.write(batch, "acme", None, record)
        if i % 200 == 199:
            batch.commit()
            batch = store.db.batch()
    batch.commit()
    winner = new(deployments, gh, "new")
    assert patch(deployments, gh, winner["id"], status="deployed").status_code == 200
    left = deployments.get("/v1/deployments?status=scheduled&limit=1000", headers=gh).json
    skipped = deployments.get("/v1/deployments?status=skipped&limit=1000", headers=gh).json
    assert left == [] and len(skipped) == 450


def queued(base_env, record) -> set[str]:
    """Ids in the taxonomy's queue of scheduled deployments, as Firestore holds it."""
    from shared.models.deployment import taxonomy_key
    from shared.store import firestore as fs
    from shared.store.deployments import DeploymentStore

    store = DeploymentStore(fs.client(base_env["GOOGLE_CLOUD_PROJECT"]))
    return {entry.rsplit("|", 1)[1] for entry in store.queued("acme", taxonomy_key(record))}


def test_the_queue_holds_exactly_the_scheduled_deployments(deployments, gh, base_env):
    claim = {k: TAXONOMY[k] for k in ("name", "provider", "cloud_account_id", "region")}
    first, second, third = (new(deployments, gh, v) for v in ("1", "2", "3"))
    assert queued(base_env, first) == {first["id"], second["id"], third["id"]}
    assert patch(deployments, gh, first["id"], status="failed").status_code == 200
    assert patch(deployments, gh, second["id"], notes="still waiting").status_code == 200
    assert queued(base_env, first) == {second["id"], third["id"]}
    claimed = deployments.post("/v1/deployments/claim", json=claim, headers=gh).json
    assert claimed["id"] == third["id"] and status(deployments, gh, second["id"]) == "skipped"
    assert queued(base_env, first) == set()
    assert patch(deployments, gh, third["id"], status="deployed").status_code == 200
    fourth, fifth = new(deployments, gh, "4"), new(deployments, gh, "5")
    assert patch(deployments, gh, fifth["id"], status="deployed").status_code == 200
    assert status(deployments, gh, fourth["id"]) == "skipped"
    rollback = deployments.post(f"/v1/deployments/{fifth['id']}/rollback", headers=gh).json
    later = new(deployments, gh, "6")
    assert queued(base_env, first) == {rollback["id"], later["id"]}
    # a newer deployment going live skips the queued rollback: the queue drains
    assert patch(deployments, gh, later["id"], status="in_progress").status_code == 200
    assert patch(deployments, gh, later["id"], status="deployed").status_code == 200
    assert status(deployments, gh, rollback["id"]) == "skipped"
    listed = deployments.get("/v1/deployments?status=scheduled&limit=1000", headers=gh).json
    assert queued(base_env, first) == {r["id"] for r in listed} == set()


def floor_day(base_env, record) -> str:
    """The day a taxonomy's queue is read from, as Firestore holds it."""
    from datetime import date

    from shared.models.deployment import taxonomy_key
    from shared.store import firestore as fs

    db = fs.client(base_env["GOOGLE_CLOUD_PROJECT"])
    head = db.document(f"organisations/acme/queues/{taxonomy_key(record)}").get()
    return date.fromordinal(head.get("floor")).isoformat()


@pytest.mark.parametrize("patcher", ["the creating instance", "another instance"])
def test_the_queue_spans_days(deployments, gh, base_env, monkeypatch, patcher):
    from datetime import timedelta

    from shared import clock
    from tests.conftest import make_client

    # another instance has never seen the records it patches
    other = make_client("deployments") if patcher == "another instance" else deployments

    start = clock.parse("2026-03-01T23:00:00Z")
    day = {"n": 0, "tick": 0}

    def now():
        day["tick"] += 1
        return start + timedelta(days=day["n"], seconds=day["tick"])

    monkeypatch.setattr(clock, "utcnow", now)

    def on(n, version):
        day["n"] = n
        return new(deployments, gh, version)

    first, third = on(0, "1"), on(2, "3")
    fifth, newer_same_day = on(4, "5"), on(4, "5b")
    assert queued(base_env, first) == {first["id"], third["id"], fifth["id"], newer_same_day["id"]}
    assert patch(other, gh, fifth["id"], status="deployed").status_code == 200
    assert status(deployments, gh, first["id"]) == status(deployments, gh, third["id"]) == "skipped"
    assert queued(base_env, first) == {newer_same_day["id"]}
    sixth, later = on(5, "6"), on(40, "later")
    day["n"] = 41
    assert patch(other, gh, later["id"], status="deployed").status_code == 200
    assert status(deployments, gh, newer_same_day["id"]) == "skipped"
    assert status(deployments, gh, sixth["id"]) == "skipped"
    # later reads of the queue start at the day of the deployment that went live
    assert floor_day(base_env, later) == later["created_at"][:10]
    a, b = on(42, "a"), on(43, "b")
    claim = {k: TAXONOMY[k] for k in ("name", "provider", "cloud_account_id", "region")}
    claimed = other.post("/v1/deployments/claim", json=claim, headers=gh).json
    assert claimed["id"] == b["id"] and status(deployments, gh, a["id"]) == "skipped"
    assert queued(base_env, first) == set()


def deploy(client, headers, version, **fields):
    record = new(client, headers, version, **fields)
    assert patch(client, headers, record["id"], status="deployed").status_code == 200
    return record


def rollback_url(**overrides):
    params = {**TAXONOMY, **overrides}
    return "/v1/deployments/rollback?" + "&".join(f"{k}={v}" for k, v in params.items())


def test_rollback_by_taxonomy(deployments, gh):
    v1 = deploy(deployments, gh, "1.0", environment="production", build_uri="https://b/1")
    deploy(deployments, gh, "1.1")
    v2 = deploy(deployments, gh, "2.0")
    v2b = deploy(deployments, gh, "2.0")  # a redeploy of the same version
    response = deployments.post(rollback_url(), headers=gh)
    assert response.status_code == 201, response.json
    rollback = response.json
    assert rollback["version"] == "1.1" and rollback["trigger"] == "rollback"
    assert rollback["status"] == "scheduled"
    assert rollback["rollback_from_deployment_id"] == v2b["id"]
    targeted = deployments.post(rollback_url(target_version="1.0"), headers=gh).json
    assert targeted["source_deployment_id"] == v1["id"]
    assert targeted["environment"] == "production" and targeted["build_uri"] == "https://b/1"
    # deploying the rollback marks the record it replaced rolled_back
    assert patch(deployments, gh, targeted["id"], status="deployed").status_code == 200
    assert status(deployments, gh, v2b["id"]) == "rolled_back"
    assert status(deployments, gh, v2["id"]) == "deployed"
    assert status(deployments, gh, rollback["id"]) == "skipped"


def test_rollback_errors(deployments, gh):
    response = deployments.post(rollback_url(), headers=gh)
    assert response.status_code == 404 and "nothing" in response.json["error"]
    deploy(deployments, gh, "1.0")
    response = deployments.post(rollback_url(), headers=gh)
    assert response.status_code == 404 and "earlier" in response.json["error"]
    response = deployments.post(rollback_url(target_version="0.9"), headers=gh)
    assert response.status_code == 404 and "0.9" in response.json["error"]
    response = deployments.post(
        "/v1/deployments/rollback?name=api&provider=gcp&region=eu", headers=gh
    )
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "cloud_account_id"


def test_rollback_empty_value_stands_for_null(deployments, gh):
    bare = {"name": "cli", "provider": "gcp", "type": "k8s"}
    for version in ("1", "2"):
        created = deployments.post(
            "/v1/deployments", json={**bare, "version": version}, headers=gh
        ).json
        patch(deployments, gh, created["id"], status="deployed")
    response = deployments.post(
        "/v1/deployments/rollback?name=cli&provider=gcp&cloud_account_id=&region=", headers=gh
    )
    assert response.status_code == 201 and response.json["version"] == "1"


def test_rollback_by_id(deployments, gh):
    v1 = deploy(deployments, gh, "1")
    v2 = deploy(deployments, gh, "2")
    response = deployments.post(f"/v1/deployments/{v1['id']}/rollback", headers=gh)
    assert response.status_code == 409 and response.json["code"] == "not_current"
    current = deployments.post(f"/v1/deployments/{v2['id']}/rollback", headers=gh).json
    assert current["version"] == "1" and current["rollback_from_deployment_id"] == v2["id"]
    # a release that never went live: roll back to the newest deployed record
    broken = new(deployments, gh, "3")
    patch(deployments, gh, broken["id"], status="in_progress")
    patch(deployments, gh, broken["id"], status="failed")
    response = deployments.post(f"/v1/deployments/{broken['id']}/rollback", headers=gh)
    assert response.status_code == 201
    undo = response.json
    assert undo["version"] == "2" and undo["source_deployment_id"] == v2["id"]
    assert undo["rollback_from_deployment_id"] == broken["id"]
    patch(deployments, gh, undo["id"], status="deployed")
    assert status(deployments, gh, v2["id"]) == "deployed"  # nothing marked rolled_back
    assert status(deployments, gh, broken["id"]) == "failed"
    target = deployments.post(
        f"/v1/deployments/{broken['id']}/rollback?target_version=1", headers=gh
    ).json
    assert target["source_deployment_id"] == v1["id"]
    assert deployments.post("/v1/deployments/not-an-id/rollback", headers=gh).status_code == 404


def test_claim(deployments, gh):
    claim = {
        "name": TAXONOMY["name"],
        "provider": "gcp",
        "cloud_account_id": "proj-1",
        "region": "eu-west1",
    }
    assert deployments.post("/v1/deployments/claim", json=claim, headers=gh).status_code == 404
    old = new(deployments, gh, "1")
    newest = new(deployments, gh, "2")
    response = deployments.post("/v1/deployments/claim", json=claim, headers=gh)
    assert response.status_code == 200
    assert response.json["id"] == newest["id"] and response.json["status"] == "in_progress"
    assert status(deployments, gh, old["id"]) == "skipped"
    new(deployments, gh, "3")
    response = deployments.post("/v1/deployments/claim", json=claim, headers=gh)
    assert response.status_code == 409 and newest["id"] in response.json["error"]
    response = deployments.post("/v1/deployments/claim", json={"name": "api"}, headers=gh)
    assert response.status_code == 400 and response.json["details"][0]["field"] == "provider"


def test_idempotency_key(deployments, gh, identity):
    body = {**TAXONOMY, "version": "1", "type": "k8s"}
    headers = {**gh, "Idempotency-Key": "run-42"}
    first = deployments.post("/v1/deployments", json=body, headers=headers)
    again = deployments.post("/v1/deployments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    different = deployments.post("/v1/deployments", json={**body, "version": "2"}, headers=headers)
    assert different.status_code == 409 and different.json["code"] == "idempotency_key_reused"
    other_org = {
        "Authorization": f"Bearer {identity.github_token('globex')}",
        "Idempotency-Key": "run-42",
    }
    assert (
        deployments.post("/v1/deployments", json=body, headers=other_org).json["id"]
        != first.json["id"]
    )
    assert len(deployments.get("/v1/deployments", headers=gh).json) == 1


def test_roles(deployments, google_headers, gh):
    record = new(deployments, gh, "1")
    viewer = google_headers(VIEWER_EMAIL)
    assert deployments.get("/v1/deployments", headers=viewer).status_code == 200
    body = {**TAXONOMY, "version": "2", "type": "k8s"}
    response = deployments.post("/v1/deployments", json=body, headers=viewer)
    assert response.status_code == 403 and response.json["code"] == "forbidden"
    assert patch(deployments, viewer, record["id"], status="deployed").status_code == 403
    deployer = google_headers(DEPLOYER_EMAIL)
    created = deployments.post("/v1/deployments", json=body, headers=deployer)
    assert created.status_code == 201 and created.json["created_by_actor"] == DEPLOYER_EMAIL
    assert deployments.get("/v1/deployments", headers={}).status_code == 401
    response = deployments.get(
        "/v1/deployments", headers={"Authorization": gh["Authorization"] + "x"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("pat_state, expected", [("active", 201), ("pending", 403)])
def test_pat_callers_like_the_existing_cli(deployments, identity, pat_state, expected):
    identity.add_pat(f"ghp_{pat_state}", f"user-{pat_state}", {"acme": pat_state})
    headers = {"Authorization": f"Bearer ghp_{pat_state}", "X-Organisation": "acme"}
    body = {**TAXONOMY, "version": "1", "type": "k8s"}
    response = deployments.post("/v1/deployments", json=body, headers=headers)
    assert response.status_code == expected
    if expected == 201:
        assert response.json["created_by_actor"] == f"user-{pat_state}"


def test_rollback_after_more_than_a_thousand_redeploys(deployments, gh, base_env):
    """The previous version is found however many times the current one was redeployed."""
    from datetime import timedelta

    from shared import clock
    from shared.auth import Principal
    from shared.deployments.rules import new_record
    from shared.store import firestore as fs
    from shared.store.deployments import DeploymentStore

    store = DeploymentStore(fs.client(base_env["GOOGLE_CLOUD_PROJECT"]))
    principal = Principal("local", "t", "acme", "admin")
    start = clock.utcnow() - timedelta(days=3)
    batch, previous = store.db.batch(), None
    for i in range(1_101):
        at = clock.to_text(start + timedelta(seconds=i))
        fields = {**TAXONOMY, "version": "1.0" if i == 0 else "2.0", "type": "k8s"}
        record = dict(new_record("acme", fields, principal), status="deployed", deployed_at=at)
        store.write(batch, "acme", None, record)
        previous = previous or record
        if i % 250 == 249:
            batch.commit()
            batch = store.db.batch()
    batch.commit()
    response = deployments.post(rollback_url(), headers=gh)
    assert response.status_code == 201, response.json
    assert response.json["version"] == "1.0"
    assert response.json["source_deployment_id"] == previous["id"]
