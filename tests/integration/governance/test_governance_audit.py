"""The outbox and the audit log: one event per change, one entry per event, filters, CSV."""

from __future__ import annotations

import csv
import io
import json

from shared.governance.audit import entry_from_event
from shared.store.audit import AuditStore
from tests.integration.governance.conftest import WEB
from tests.support.governance import deliver, drain, outbox, push_body


def audit(deployments, headers, query: str = ""):
    response = deployments.get(f"/v1/audit-logs{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_every_change_has_one_event_and_no_op_has_none(deployments, db, as_, create):
    record = create("1")
    url = f"/v1/deployments/{record['id']}"
    deployments.patch(url, json={"status": "in_progress"}, headers=as_("deployer"))
    deployments.patch(url, json={"status": "in_progress"}, headers=as_("deployer"))  # no-op
    body = {**WEB, "version": "2"}
    headers = {**as_("deployer"), "Idempotency-Key": "k-1"}
    deployments.post("/v1/deployments", json=body, headers=headers)
    deployments.post("/v1/deployments", json=body, headers=headers)  # replay
    events = [doc["event"] for doc in outbox(db)]
    assert [e["type"] for e in events] == [
        "deployq.deployment.created",
        "deployq.deployment.status_changed",
        "deployq.deployment.created",
    ]
    event = events[1]
    assert event["specversion"] == "1.0" and event["subject"] == f"deployments/{record['id']}"
    assert event["data"]["before"]["status"] == "scheduled"
    assert event["data"]["after"]["status"] == "in_progress"
    assert event["time"] == event["data"]["after"]["updated_at"]
    assert len({e["id"] for e in events}) == 3


def test_audit_entries_say_who_what_when_and_where_from(
    deployments, db, events, as_, create, gh, put_policy
):
    put_policy("staging", requires_approval=True)
    record = create("1", environment="staging")
    deployments.post(
        f"/v1/deployments/{record['id']}/approve",
        json={"comment": "ship it"},
        headers={**as_("approver"), "X-Forwarded-For": "198.51.100.66, 203.0.113.9"},
    )
    deployments.patch(
        f"/v1/deployments/{record['id']}",
        json={"status": "deployed"},
        headers={**gh, "User-Agent": "deployq-action/1"},
    )
    drain(db, events)
    entries = audit(deployments, as_("viewer"))
    # The workflow's first token pinned acme's GitHub owner id: that is audited too.
    pinned = [e for e in entries if e["resource_type"] == "organisation"]
    assert [(e["action"], e["actor"]) for e in pinned] == [
        ("deployq.organisation.updated", "octocat")
    ]
    entries = [e for e in entries if e["resource_type"] != "organisation"]
    # The pending deployment asked for approval once (same time as its creation).
    requested = [e for e in entries if e["action"] == "deployq.approval.requested"]
    assert [(e["resource_type"], e["resource_id"]) for e in requested] == [
        ("deployment", record["id"])
    ]
    entries = [e for e in entries if e["action"] != "deployq.approval.requested"]
    assert [e["action"] for e in entries] == [
        "deployq.deployment.status_changed",
        "deployq.deployment.approved",
        "deployq.deployment.created",
        "deployq.policy.updated",
    ]
    changed, approved, created, policy = entries
    assert changed["actor"] == "octocat" and changed["principal_kind"] == "github_oidc"
    assert changed["repository"] == "acme/app" and changed["user_agent"] == "deployq-action/1"
    assert changed["before"] == {
        "status": "scheduled",
        "status_changed_at": changed["before"]["status_changed_at"],
        "deployed_at": None,
    }
    assert changed["after"]["status"] == "deployed"
    assert approved["comment"] == "ship it" and approved["ip"] == "203.0.113.9"
    assert approved["actor"] == "approver@example.com"
    assert created["before"] is None and created["after"]["id"] == record["id"]
    assert created["resource_type"] == "deployment" and created["resource_id"] == record["id"]
    assert policy["resource_type"] == "policy" and policy["resource_id"] == "staging"
    assert policy["actor"] == "admin@example.com" and policy["user_agent"] == "pytest-admin"
    assert entries == sorted(entries, key=lambda e: e["time"], reverse=True)


def test_filters_and_pagination(deployments, db, events, as_, create):
    ids = [create(str(i))["id"] for i in range(5)]
    deployments.patch(f"/v1/deployments/{ids[0]}", json={"status": "failed"}, headers=as_("admin"))
    drain(db, events)
    viewer = as_("viewer")
    assert len(audit(deployments, viewer, "?action=deployq.deployment.created")) == 5
    assert [e["resource_id"] for e in audit(deployments, viewer, f"?resource_id={ids[0]}")] == [
        ids[0],
        ids[0],
    ]
    assert len(audit(deployments, viewer, f"?resource={ids[0]}")) == 2
    [mine] = audit(deployments, viewer, "?actor=admin@example.com")
    assert mine["after"]["status"] == "failed"
    assert audit(deployments, viewer, "?resource_type=policy") == []

    everything = audit(deployments, viewer)
    middle = everything[2]["time"]
    newer = audit(deployments, viewer, f"?from={middle}")
    assert [e["id"] for e in newer] == [e["id"] for e in everything[:3]]
    older = audit(deployments, viewer, f"?to={middle}")
    assert [e["id"] for e in older] == [e["id"] for e in everything[3:]]

    pages, token = [], None
    while True:
        query = "?limit=2" + (f"&page_token={token}" if token else "")
        response = deployments.get(f"/v1/audit-logs{query}", headers=viewer)
        pages.append([e["id"] for e in response.json])
        token = response.headers.get("X-Next-Page-Token")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    assert sum(pages, []) == [e["id"] for e in everything]

    for bad in (
        "?limit=0",
        "?limit=1001",
        "?from=yesterday",
        "?to=2026-13-01T00:00:00Z",
        "?page_token=nope",
    ):
        response = deployments.get(f"/v1/audit-logs{bad}", headers=viewer)
        assert response.status_code == 400, bad


def test_events_are_handled_once(deployments, db, events, as_, create):
    record = create("1")
    [event] = [doc["event"] for doc in outbox(db)]
    for _ in range(3):
        assert deliver(events, event).status_code == 200
    entries = audit(deployments, as_("viewer"))
    assert [e["event_id"] for e in entries] == [event["id"]]
    assert entries[0]["resource_id"] == record["id"]


def test_unusable_messages_are_acknowledged(deployments, events, as_):
    for data in (b"not json", b'{"hello": "world"}', b'{"specversion": "1.0"}'):
        assert events.post("/", json=push_body(data)).status_code == 200
    bad_base64 = push_body(b"")
    bad_base64["message"]["data"] = "!!!"
    assert events.post("/", json=bad_base64).status_code == 200
    assert audit(deployments, as_("viewer")) == []


def test_binary_mode_messages_are_understood(deployments, db, events, as_, create):
    create("1")
    [event] = [doc["event"] for doc in outbox(db)]
    attributes = {f"ce-{k}": v for k, v in event.items() if k != "data"}
    body = push_body(json.dumps(event["data"]).encode(), attributes)
    assert events.post("/", json=body).status_code == 200
    [entry] = audit(deployments, as_("viewer"))
    assert entry["event_id"] == event["id"]


def test_another_organisation_sees_nothing(deployments, db, events, as_, create, identity):
    record = create("1")
    drain(db, events)
    assert len(audit(deployments, as_("viewer"))) == 1
    globex = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    assert audit(deployments, globex) == []
    assert audit(deployments, globex, f"?resource_id={record['id']}") == []
    export = deployments.get("/v1/audit-logs/export.csv", headers=globex)
    assert export.get_data(as_text=True).count("\r\n") == 1  # the header only


def test_csv_export_of_ten_thousand_entries(deployments, db, as_):
    store = AuditStore(db)
    tricky = [
        'comma, "quotes" and\nnewline',
        '=HYPERLINK("http://evil")',
        "+1",
        "-2",
        "@SUM(A1)",
    ]
    batch = db.batch()
    for i in range(10_000):
        event = {
            "id": f"event-{i:05d}",
            "type": "deployq.deployment.created",
            "subject": f"deployments/d-{i:05d}",
            "time": f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}.{i:06d}Z",
            "data": {
                "organisation": "acme",
                "before": None,
                "after": {"name": "web", "version": str(i)},
                "principal": {"kind": "google", "actor": f"user{i % 7}@example.com"},
                "request": {"ip": "192.0.2.1", "user_agent": tricky[i % len(tricky)]},
            },
        }
        entry = entry_from_event(event)
        batch.set(store.collection("acme").document(f"{i:040d}"), entry)
        if (i + 1) % 500 == 0:
            batch.commit()
            batch = db.batch()
    response = deployments.get("/v1/audit-logs/export.csv", headers=as_("viewer"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("time,actor,action,resource_type,resource_id,ip,user_agent")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 10_000
    assert len({r["event_id"] for r in rows}) == 10_000
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    agents = {r["user_agent"] for r in rows}
    assert agents == {
        'comma, "quotes" and\nnewline',
        '\'=HYPERLINK("http://evil")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
    }
    assert '"comma, ""quotes"" and\nnewline"' in text
    assert text.count("\r\n") >= 10_001

    filtered = deployments.get(
        "/v1/audit-logs/export.csv?actor=user3@example.com", headers=as_("viewer")
    ).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(filtered, newline="")))) == len(
        [i for i in range(10_000) if i % 7 == 3]
    )


def test_eventarc_delivery_is_understood(deployments, db, events, as_, create):
    """Eventarc's Pub/Sub trigger: a binary-mode CloudEvent whose data wraps the message."""
    create("1")
    [event] = [doc["event"] for doc in outbox(db)]
    headers = {
        "ce-id": "1234567890",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/deployq-events",
        "Content-Type": "application/json",
    }
    response = events.post("/", json=push_body(json.dumps(event).encode()), headers=headers)
    assert response.status_code == 200
    [entry] = audit(deployments, as_("viewer"))
    assert entry["event_id"] == event["id"]
