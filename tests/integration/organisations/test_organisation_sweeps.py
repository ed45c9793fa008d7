"""Sweeps act only on documents under organisations/{org}/: planted look-alikes are ignored."""

from __future__ import annotations

import json
import os
import uuid

from tests.conftest import make_client
from tests.support.governance import create_subscription, create_topic, outbox, pull
from tests.support.waiting import wait_for

WEB = {"name": "web", "provider": "gcp", "type": "k8s"}


def forged_event(org: str) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"//deployq/organisations/{org}",
        "type": "deployq.deployment.status_changed",
        "subject": "deployments/forged",
        "time": "2020-01-01T00:00:00.000000Z",
        "organisation": org,
        "data": {"organisation": org, "before": None, "after": {"status": "deployed"}},
    }


def test_a_planted_top_level_outbox_is_never_published(
    pubsub_emulator, project, deployments, platform, google_headers, internal_headers, monkeypatch
):
    from shared import events
    from shared.store import firestore as fs

    # The way such a document would get there: an environment that is the control plane's
    # own database, which registration refuses.
    grab = {"environments": {"dev": {"project": project, "database": "(default)"}}}
    refused = deployments.put("/v1/organisations/acme", json=grab, headers=platform)
    assert refused.status_code == 400 and refused.json["code"] == "control_plane_database"

    # Planted anyway (by whatever means): top-level outbox documents, oldest first, one
    # claiming to be another organisation's and one that is not even JSON.
    db = fs.client(project)
    for n, org in enumerate(("acme", "victim", "victim")):
        db.collection("outbox").document(f"forged-{n}").set(
            {
                "published": False,
                "created_at": f"2000-01-01T00:00:0{n}.000000Z",
                "organisation": org,
                "events_json": json.dumps([forged_event(org)]) if n < 2 else "{not json",
                "count": 1,
            }
        )
    name = f"events-{uuid.uuid4().hex[:8]}"
    create_topic(pubsub_emulator.host, project, name)
    create_subscription(pubsub_emulator.host, project, name, f"{name}-sub")
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator.host
    os.environ["EVENTS_TOPIC"] = name
    monkeypatch.setattr(events, "SWEEP_PAGE", 2)  # the planted documents fill whole pages
    client = make_client("deployments")
    # Three real events, left unpublished as if Pub/Sub had been down.
    publish_soon = events.EventSink.publish_soon
    monkeypatch.setattr(events.EventSink, "publish_soon", lambda self, org, items: None)
    for version in ("1", "2", "3"):
        created = client.post(
            "/v1/deployments", json={**WEB, "version": version}, headers=google_headers()
        )
        assert created.status_code == 201
    monkeypatch.setattr(events.EventSink, "publish_soon", publish_soon)

    swept = client.post("/v1/events:sweep", headers=internal_headers)
    assert swept.status_code == 200, swept.json
    assert swept.json == {"published": 3, "failed": 0}
    received: list[dict] = []

    def three():
        received.extend(pull(pubsub_emulator.host, project, f"{name}-sub"))
        return len(received) >= 3

    wait_for(three, timeout=30, what="the three real events")
    assert {e["subject"] for e in received} != {"deployments/forged"}
    assert all(e["subject"] != "deployments/forged" for e in received)
    assert outbox(db, "acme", published=False) == []
    # The planted documents stay as they were: never published, never marked.
    planted = {s.id: s.to_dict()["published"] for s in db.collection("outbox").stream()}
    assert planted == {"forged-0": False, "forged-1": False, "forged-2": False}
    again = client.post("/v1/events:sweep", headers=internal_headers)
    assert again.status_code == 200 and again.json == {"published": 0, "failed": 0}
