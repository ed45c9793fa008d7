"""Publishing through the real Pub/Sub emulator: after commit, sweep, missing topic, outage."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.conftest import make_client
from tests.integration.governance.conftest import WEB
from tests.support.governance import (
    TcpProxy,
    create_subscription,
    create_topic,
    deliver,
    outbox,
    pull,
)
from tests.support.waiting import wait_for


@pytest.fixture
def topic(pubsub_emulator, base_env, project):
    """A fresh topic id with a pull subscription; returns (topic, subscription)."""
    name = f"events-{uuid.uuid4().hex[:8]}"
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator.host
    os.environ["EVENTS_TOPIC"] = name
    return name, f"{name}-sub"


def pull_until(host, project, subscription, count, timeout=30.0):
    received: list[dict] = []

    def enough():
        received.extend(pull(host, project, subscription))
        return len({e["id"] for e in received}) >= count

    wait_for(enough, timeout=timeout, interval=0.1, what=f"{count} events on {subscription}")
    return received


def test_changes_are_published_after_commit(pubsub_emulator, project, topic, db, as_):
    name, subscription = topic
    create_topic(pubsub_emulator.host, project, name)
    create_subscription(pubsub_emulator.host, project, name, subscription)
    os.environ["EVENTS_TOPIC"] = f"projects/{project}/topics/{name}"  # the full-path form
    client = make_client("deployments")
    created = client.post("/v1/deployments", json={**WEB, "version": "1"}, headers=as_("deployer"))
    assert created.status_code == 201
    client.patch(
        f"/v1/deployments/{created.json['id']}",
        json={"status": "deployed"},
        headers=as_("deployer"),
    )
    received = pull_until(pubsub_emulator.host, project, subscription, 2)
    types = sorted(e["type"] for e in received)
    assert types == ["deployq.deployment.created", "deployq.deployment.status_changed"]
    assert all(
        e["specversion"] == "1.0" and e["source"] == "//deployq/organisations/acme"
        for e in received
    )
    wait_for(lambda: outbox(db, published=False) == [], what="outbox marked published")


def test_missing_topic_then_sweep(pubsub_emulator, project, topic, db, as_, internal_headers):
    name, subscription = topic
    client = make_client("deployments")
    started = time.monotonic()
    created = client.post("/v1/deployments", json={**WEB, "version": "1"}, headers=as_("deployer"))
    assert created.status_code == 201
    assert time.monotonic() - started < 4.0  # a blocked publish would take >= 5 s
    # Two more and a deploy that auto-skips: its three events share one outbox document.
    for version in ("2", "3"):
        newest = client.post(
            "/v1/deployments", json={**WEB, "version": version}, headers=as_("deployer")
        ).json
    client.patch(
        f"/v1/deployments/{newest['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    assert len(outbox(db, published=False)) == 6

    assert client.post("/v1/events:sweep", headers=as_("admin")).status_code in (401, 403)
    failing = client.post("/v1/events:sweep", headers=internal_headers)
    assert failing.status_code == 503

    create_topic(pubsub_emulator.host, project, name)
    create_subscription(pubsub_emulator.host, project, name, subscription)
    swept = client.post("/v1/events:sweep", headers=internal_headers)
    assert swept.status_code == 200 and swept.json == {"published": 6, "failed": 0}
    received = pull_until(pubsub_emulator.host, project, subscription, 6)
    assert created.json["id"] in {e["data"]["after"]["id"] for e in received}
    assert all("_outbox" not in e for e in received)
    assert outbox(db, published=False) == []
    again = client.post("/v1/events:sweep", headers=internal_headers)
    assert again.json == {"published": 0, "failed": 0}


def test_pubsub_outage_loses_and_doubles_nothing(
    pubsub_emulator, project, topic, db, as_, internal_headers, events, deployments
):
    name, subscription = topic
    create_topic(pubsub_emulator.host, project, name)
    create_subscription(pubsub_emulator.host, project, name, subscription)
    proxy = TcpProxy(pubsub_emulator.host)
    os.environ["PUBSUB_EMULATOR_HOST"] = proxy.address
    client = make_client("deployments")
    try:
        first = client.post(
            "/v1/deployments", json={**WEB, "version": "0"}, headers=as_("deployer")
        )
        received = pull_until(pubsub_emulator.host, project, subscription, 1)

        proxy.cut()
        ids = []
        for i in range(1, 6):
            started = time.monotonic()
            response = client.post(
                "/v1/deployments", json={**WEB, "version": str(i)}, headers=as_("deployer")
            )
            assert response.status_code == 201
            ids.append(response.json["id"])
            patched = client.patch(
                f"/v1/deployments/{response.json['id']}",
                json={"status": "deployed"},
                headers=as_("deployer"),
            )
            assert patched.status_code == 200
            assert time.monotonic() - started < 4.0  # Pub/Sub being down costs the caller nothing
        # 5 creates, 5 deploys, and version 0 auto-skipped by the first deploy.
        expected = 1 + 5 * 2 + 1
        assert len(outbox(db)) == expected
        assert len(outbox(db, published=False)) == expected - 1

        proxy.restore()

        def swept():
            response = client.post("/v1/events:sweep", headers=internal_headers)
            return not outbox(db, published=False) and response.status_code == 200

        wait_for(swept, timeout=60, interval=0.5, what="the sweep to publish everything")
        missing = expected - len({e["id"] for e in received})
        received += pull_until(pubsub_emulator.host, project, subscription, missing)
        assert len({e["id"] for e in received}) == expected

        for event in received + received[:3]:  # redeliveries too
            assert deliver(events, event).status_code == 200
        entries = deployments.get("/v1/audit-logs?limit=1000", headers=as_("viewer")).json
        assert len(entries) == expected
        assert len({e["event_id"] for e in entries}) == expected
        assert {e["resource_id"] for e in entries} == {first.json["id"], *ids}
    finally:
        proxy.close()


def test_an_auto_skip_costs_few_outbox_writes(deployments, db, as_, create, events):
    from tests.support.governance import drain, outbox_documents

    older = [create(str(i))["id"] for i in range(30)]
    newest = create("new")
    before = outbox_documents(db)
    response = deployments.patch(
        f"/v1/deployments/{newest['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    assert response.status_code == 200
    assert outbox_documents(db) - before == 1  # 31 events in one document
    assert len(outbox(db)) == 31 + 31
    drain(db, events)
    skipped = deployments.get(
        "/v1/audit-logs?action=deployq.deployment.status_changed&limit=100", headers=as_("viewer")
    ).json
    assert {e["resource_id"] for e in skipped} == {*older, newest["id"]}
