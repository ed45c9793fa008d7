"""Events end to end: deployments process -> Pub/Sub emulator -> push -> events process."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import requests

from shared import clock
from tests.support.emulators import free_port, start_function
from tests.support.governance import create_subscription, create_topic, pubsub_rest
from tests.support.waiting import wait_for

WEB = {"name": "web", "provider": "gcp", "cloud_account_id": "p1", "region": "eu", "type": "k8s"}


def wait_port(port: int, timeout: float = 60.0) -> None:
    def open_() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(open_, timeout=timeout, interval=0.1, what=f"port {port}")


@pytest.fixture
def stack(base_env, pubsub_emulator, project, log_dir):
    """The deployments and events functions as processes, joined by a push subscription."""
    topic = f"deployq-events-{uuid.uuid4().hex[:6]}"
    env = {**base_env, "PUBSUB_EMULATOR_HOST": pubsub_emulator.host, "EVENTS_TOPIC": topic}
    events_port, api_port = free_port(), free_port()
    events = start_function("events", events_port, env, log_dir)
    api = start_function("deployments", api_port, env, log_dir)
    wait_port(events_port)
    create_topic(pubsub_emulator.host, project, topic)
    create_subscription(
        pubsub_emulator.host,
        project,
        topic,
        f"{topic}-push",
        push_endpoint=f"http://127.0.0.1:{events_port}/",
    )
    yield {"api": f"http://127.0.0.1:{api_port}", "topic": topic, "events": events}
    api.stop()
    events.stop()


def test_changes_reach_the_audit_log_and_dora(stack, gh, google_headers, pubsub_emulator, project):
    api, headers = stack["api"], {**gh, "User-Agent": "e2e-runner/1.0"}
    commit = clock.to_text(clock.utcnow())
    created = requests.post(
        f"{api}/v1/deployments",
        json={**WEB, "version": "1", "environment": "production", "commit_timestamp": commit},
        headers=headers,
        timeout=10,
    ).json()
    deployed = requests.patch(
        f"{api}/v1/deployments/{created['id']}",
        json={"status": "deployed"},
        headers=headers,
        timeout=10,
    )
    assert deployed.status_code == 200
    # A message that is not a deployq event is acknowledged, not redelivered forever.
    requests.post(
        f"{pubsub_rest(pubsub_emulator.host)}/projects/{project}/topics/{stack['topic']}:publish",
        json={"messages": [{"data": "bm90IGFuIGV2ZW50"}]},
        timeout=10,
    )
    viewer = google_headers("viewer@example.com")

    # The workflow's first token also pinned acme's GitHub owner id (audited as an
    # organisation change); the deployment entries are the point here.
    deployment_entries = f"{api}/v1/audit-logs?resource_type=deployment"

    def audited():
        response = requests.get(deployment_entries, headers=viewer, timeout=10)
        return response.json() if len(response.json()) == 2 else None

    entries = wait_for(audited, timeout=30, interval=0.2, what="two audit entries")
    assert [e["action"] for e in entries] == [
        "deployq.deployment.status_changed",
        "deployq.deployment.created",
    ]
    assert all(e["actor"] == "octocat" and e["user_agent"] == "e2e-runner/1.0" for e in entries)
    assert entries[0]["ip"] == "127.0.0.1"

    def counted():
        figures = requests.get(f"{api}/v1/metrics/dora", headers=viewer, timeout=10).json()
        return figures if figures["deployment_frequency"]["deployments"] == 1 else None

    figures = wait_for(counted, timeout=30, interval=0.2, what="DORA to count the deployment")
    assert figures["lead_time"]["median_seconds"] < 60
    time.sleep(0.5)  # nothing more arrives: no duplicates from redelivery
    response = requests.get(deployment_entries, headers=viewer, timeout=10)
    assert len(response.json()) == 2
    organisation = requests.get(
        f"{api}/v1/audit-logs?resource_type=organisation", headers=viewer, timeout=10
    ).json()
    assert [(e["action"], e["actor"]) for e in organisation] == [
        ("deployq.organisation.updated", "octocat")
    ]


@pytest.fixture
def outage_stack(base_env, pubsub_emulator, project, log_dir):
    """As `stack`, but the deployments process reaches Pub/Sub through a cuttable proxy."""
    from tests.support.governance import TcpProxy

    proxy = TcpProxy(pubsub_emulator.host)
    topic = f"deployq-events-{uuid.uuid4().hex[:6]}"
    env = {**base_env, "EVENTS_TOPIC": topic}
    events_port, api_port = free_port(), free_port()
    events = start_function(
        "events", events_port, {**env, "PUBSUB_EMULATOR_HOST": pubsub_emulator.host}, log_dir
    )
    api = start_function(
        "deployments", api_port, {**env, "PUBSUB_EMULATOR_HOST": proxy.address}, log_dir
    )
    wait_port(events_port)
    create_topic(pubsub_emulator.host, project, topic)
    create_subscription(
        pubsub_emulator.host,
        project,
        topic,
        f"{topic}-push",
        push_endpoint=f"http://127.0.0.1:{events_port}/",
    )
    yield {"api": f"http://127.0.0.1:{api_port}", "proxy": proxy}
    api.stop()
    events.stop()
    proxy.close()


def test_outage_events_arrive_later_once(outage_stack, gh, google_headers, internal_headers):
    api, proxy = outage_stack["api"], outage_stack["proxy"]
    viewer = google_headers("viewer@example.com")

    def audit_count(n):
        def check():
            entries = requests.get(
                f"{api}/v1/audit-logs?limit=1000&resource_type=deployment",
                headers=viewer,
                timeout=10,
            ).json()
            return entries if len(entries) >= n else None

        return check

    first = requests.post(
        f"{api}/v1/deployments", json={**WEB, "version": "0"}, headers=gh, timeout=10
    ).json()
    wait_for(audit_count(1), timeout=30, interval=0.2, what="the first audit entry")

    proxy.cut()
    ids = [first["id"]]
    for version in ("1", "2", "3"):
        started = time.monotonic()
        record = requests.post(
            f"{api}/v1/deployments", json={**WEB, "version": version}, headers=gh, timeout=10
        ).json()
        ids.append(record["id"])
        response = requests.patch(
            f"{api}/v1/deployments/{record['id']}",
            json={"status": "failed"},
            headers=gh,
            timeout=10,
        )
        assert response.status_code == 200
        assert time.monotonic() - started < 4.0  # a blocked publish would take >= 5 s
    proxy.restore()

    def sweep():
        response = requests.post(f"{api}/v1/events:sweep", headers=internal_headers, timeout=60)
        return response.status_code == 200 and response.json()["failed"] == 0

    wait_for(sweep, timeout=60, interval=0.5, what="a clean sweep")
    expected = 1 + 3 * 2  # four creates and three failures (failing auto-skips nothing)
    entries = wait_for(audit_count(expected), timeout=30, interval=0.2, what="every entry")
    time.sleep(0.5)
    entries = requests.get(
        f"{api}/v1/audit-logs?limit=1000&resource_type=deployment", headers=viewer, timeout=10
    ).json()
    assert len(entries) == expected
    assert len({e["event_id"] for e in entries}) == expected
    assert {e["resource_id"] for e in entries} == set(ids)
