"""Decoding Pub/Sub messages into deployq events, and notification texts."""

from __future__ import annotations

import base64
import json

from shared.events import build_event, resource_type
from shared.google.pubsub import topic_path
from shared.governance.consumer import decode_message
from shared.governance.notify import message_for

EVENT = build_event(
    "acme",
    "deployq.deployment.created",
    "deployments/x",
    None,
    {
        "id": "x",
        "name": "web",
        "version": "2",
        "trigger": "rollback",
        "environment": "prod",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    },
)


def message(data: bytes, attributes=None):
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes or {},
            "messageId": "1",
        }
    }


def test_structured_and_binary_modes():
    assert decode_message(message(json.dumps(EVENT).encode())) == EVENT
    attributes = {f"ce-{k}": v for k, v in EVENT.items() if k != "data"}
    binary = decode_message(message(json.dumps(EVENT["data"]).encode(), attributes))
    assert binary["id"] == EVENT["id"] and binary["data"] == EVENT["data"]


def test_unusable_messages():
    for data in (
        b"",
        b"garbage",
        b"[]",
        b'{"specversion": "1.0"}',
        json.dumps({**EVENT, "type": "com.example.other"}).encode(),
        json.dumps({**EVENT, "data": "text"}).encode(),
    ):
        assert decode_message(message(data)) is None
    assert decode_message({"message": {"data": "***"}}) is None
    assert decode_message("nope") is None
    assert decode_message({"no": "message"}) is None


def test_event_shape():
    assert EVENT["specversion"] == "1.0" and EVENT["time"] == "2026-01-01T00:00:00.000000Z"
    assert EVENT["data"]["before"] is None and EVENT["subject"] == "deployments/x"
    assert topic_path("p", "t") == "projects/p/topics/t"
    assert topic_path("p", "projects/q/topics/t") == "projects/q/topics/t"
    assert resource_type("policies/prod") == "policy"
    assert resource_type("deployments/1") == "deployment"


def test_notification_texts():
    assert "rollback of web in prod to version 2" in message_for(EVENT)
    failed = build_event(
        "acme",
        "deployq.deployment.status_changed",
        "deployments/x",
        {"status": "in_progress"},
        {"id": "x", "name": "web", "version": "3", "status": "failed", "notes": "boom"},
    )
    assert "failed" in message_for(failed) and "boom" in message_for(failed)
    deployed = build_event(
        "acme",
        "deployq.deployment.status_changed",
        "deployments/x",
        {"status": "in_progress"},
        {"id": "x", "status": "deployed"},
    )
    assert message_for(deployed) is None


def test_events_of_unknown_organisations_are_unusable():
    bad = {**EVENT, "data": {**EVENT["data"], "organisation": "../etc"}}
    assert decode_message(message(json.dumps(bad).encode())) is None
