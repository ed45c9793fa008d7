"""Fixtures of the governance integration tests: the deployments and events functions."""

from __future__ import annotations

import pytest

from shared.store import firestore as fs
from tests.support.governance import events_client

WEB = {"name": "web", "provider": "gcp", "cloud_account_id": "p1", "region": "eu", "type": "k8s"}


@pytest.fixture
def db(base_env, project):
    return fs.client(project)


@pytest.fixture
def events(base_env):
    return events_client()


@pytest.fixture
def as_(google_headers):
    """Headers of a Google identity of org acme by role: as_("admin"), as_("approver"), ..."""

    def make(role: str, org: str = "acme") -> dict[str, str]:
        return {**google_headers(f"{role}@example.com", org), "User-Agent": f"pytest-{role}"}

    return make


@pytest.fixture
def create(deployments, as_):
    """Create a deployment of `web` (version, environment, as whom) and return its JSON."""

    def make(
        version: str = "1", environment: str | None = "production", role: str = "deployer", **fields
    ):
        body = {**WEB, "version": version, "environment": environment, **fields}
        response = deployments.post("/v1/deployments", json=body, headers=as_(role))
        assert response.status_code == 201, response.json
        return response.json

    return make


@pytest.fixture
def put_policy(deployments, as_):
    def make(environment: str = "production", **policy):
        response = deployments.put(f"/v1/policies/{environment}", json=policy, headers=as_("admin"))
        assert response.status_code == 200, response.json
        return response.json

    return make
