"""The events function writes deployment custom metrics to Cloud Monitoring (the gRPC fake)."""

from __future__ import annotations

import os

import pytest

from tests.fakes import FakeGoogleApis
from tests.support.governance import drain, events_client


@pytest.fixture
def monitoring(base_env):
    fake = FakeGoogleApis()
    os.environ["MONITORING_API_ENDPOINT"] = fake.start()
    yield fake.monitoring
    fake.stop()


def test_deployment_metrics(monitoring, deployments, db, as_, create, project):
    events = events_client()  # built after MONITORING_API_ENDPOINT is set
    first = create("1")
    url = f"/v1/deployments/{first['id']}"
    deployments.patch(url, json={"status": "in_progress"}, headers=as_("deployer"))
    deployments.patch(url, json={"status": "deployed"}, headers=as_("deployer"))
    second = create("2")
    deployments.patch(
        f"/v1/deployments/{second['id']}", json={"status": "failed"}, headers=as_("deployer")
    )
    third = create("3")
    deployments.patch(
        f"/v1/deployments/{third['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    rollback = deployments.post(f"/v1/deployments/{third['id']}/rollback", headers=as_("deployer"))
    assert rollback.status_code == 201
    drain(db, events)
    drain(db, events)  # redelivery writes nothing twice
    written = monitoring.written
    by_type: dict[str, list] = {}
    for point in written:
        by_type.setdefault(point["metric_type"].rsplit("/", 1)[1], []).append(point)
    assert len(by_type["deployment_started"]) == 1
    assert len(by_type["deployment_success"]) == 2
    assert len(by_type["deployment_duration"]) == 3
    assert len(by_type["deployment_rollback"]) == 1
    labels = by_type["deployment_success"][0]["metric_labels"]
    assert labels == {"organisation": "acme", "service": "web", "environment": "production"}
    assert all(p["project"] == project for p in written)
    assert all(p["value"] >= 0 for p in by_type["deployment_duration"])
