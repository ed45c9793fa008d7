"""Package deploys while Pub/Sub is unreachable: their audit entries arrive later, once each."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.e2e.governance.test_governance_events_e2e import wait_port
from tests.support.emulators import free_port, start_function
from tests.support.governance import TcpProxy, create_subscription, create_topic
from tests.support.packages import database, grant_environments, seed, shop
from tests.support.waiting import wait_for


@pytest.fixture
def packages_outage_stack(base_env, pubsub_emulator, project, log_dir):
    """The packages process reaches Pub/Sub through a cuttable proxy; the deployments process
    (audit log, sweep) and the events process reach it directly."""
    grant_environments(project)
    proxy = TcpProxy(pubsub_emulator.host)
    topic = f"deployq-events-{uuid.uuid4().hex[:6]}"
    env = {**base_env, "EVENTS_TOPIC": topic}
    direct = {**env, "PUBSUB_EMULATOR_HOST": pubsub_emulator.host}
    events_port, api_port, packages_port = free_port(), free_port(), free_port()
    events = start_function("events", events_port, direct, log_dir)
    api = start_function("deployments", api_port, direct, log_dir)
    packages = start_function(
        "packages", packages_port, {**env, "PUBSUB_EMULATOR_HOST": proxy.address}, log_dir
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
    yield {
        "api": f"http://127.0.0.1:{api_port}",
        "packages": f"http://127.0.0.1:{packages_port}",
        "proxy": proxy,
    }
    packages.stop()
    api.stop()
    events.stop()
    proxy.close()


def test_package_deploys_during_an_outage_are_audited_later_once(
    packages_outage_stack, google_headers, internal_headers, project
):
    stack = packages_outage_stack
    api, packages, proxy = stack["api"], stack["packages"], stack["proxy"]
    deployer, viewer = google_headers("deployer@example.com"), google_headers("viewer@example.com")
    for table, rows in shop(customers=2).items():
        seed(database(project, "dev"), table, rows)
    created = requests.post(
        f"{packages}/v1/packages",
        json={
            "name": "shop",
            "version": "1",
            "package_type": "database",
            "environment": "dev",
            "filter": {"tables": [{"name": "customers"}]},
        },
        headers=deployer,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    package_id = created.json()["package"]["id"]

    def entries(resource_type):
        return requests.get(
            f"{api}/v1/audit-logs?limit=1000&resource_type={resource_type}",
            headers=viewer,
            timeout=10,
        ).json()

    wait_for(lambda: len(entries("package")) == 1, timeout=30, interval=0.2, what="package")

    proxy.cut()
    ids = []
    for _ in range(3):
        response = requests.post(
            f"{packages}/v1/packages/{package_id}/deploy",
            json={"environment": "staging", "options": {"update_existing": True}},
            headers=deployer,
            timeout=30,
        )
        assert response.status_code == 200, response.text  # the change does not wait
        ids.append(response.json()["deployment"]["id"])
    time.sleep(1.0)
    assert entries("package_deployment") == []  # nothing got through
    proxy.restore()

    def sweep():
        response = requests.post(f"{api}/v1/events:sweep", headers=internal_headers, timeout=60)
        return response.status_code == 200 and response.json()["failed"] == 0

    wait_for(sweep, timeout=60, interval=0.5, what="a clean sweep")
    expected = 3 * 2  # started and completed of each
    wait_for(
        lambda: len(entries("package_deployment")) >= expected,
        timeout=30,
        interval=0.2,
        what="every entry",
    )
    time.sleep(1.0)  # nothing more arrives: no duplicates from a late publish or redelivery
    found = entries("package_deployment")
    assert len(found) == expected
    assert len({e["event_id"] for e in found}) == expected
    assert {e["resource_id"] for e in found} == set(ids)
    assert sorted(e["action"] for e in found) == sorted(
        ["deployq.package_deployment.started", "deployq.package_deployment.completed"] * 3
    )
