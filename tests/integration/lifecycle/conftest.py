"""Fixtures of the lifecycle tests: packages + worker, the deployments and events functions,
and organisation acme with persons (one member, two credentials) and its environments."""

from __future__ import annotations

import os

import pytest

from shared.store import firestore as fs
from tests.conftest import AUDIENCE, make_client
from tests.integration.packages.conftest import fake_apis, stack  # noqa: F401 - fixtures
from tests.support import organisations
from tests.support.governance import events_client

PLATFORM_EMAIL = "root@example.com"
ANN = {"email": "ann@example.com", "github_login": "octocat", "role": "approver"}
MEMBERS = [
    {"email": "admin@example.com", "role": "admin"},
    {"email": "deployer@example.com", "role": "deployer"},
    {"email": "approver@example.com", "role": "approver"},
    {"email": "viewer@example.com", "role": "viewer"},
    ANN,
]


@pytest.fixture
def api(stack):  # noqa: F811
    return stack[0]


@pytest.fixture
def platform(identity):
    """Headers of the platform admin."""
    return {"Authorization": f"Bearer {identity.google_token(PLATFORM_EMAIL, AUDIENCE)}"}


@pytest.fixture
def deployments(stack, platform, project):  # noqa: F811
    os.environ["PLATFORM_ADMINS"] = PLATFORM_EMAIL
    client = make_client("deployments")
    record = {
        "members": MEMBERS,
        "github": {
            "rules": [{"repository": "acme/*", "ref": "refs/heads/main", "role": "approver"}]
        },
        "environments": organisations.environments(project),
        "cloud_run_services": organisations.CANARY_SERVICES,
    }
    response = client.put("/v1/organisations/acme", json=record, headers=platform)
    assert response.status_code == 200, response.json
    yield client
    os.environ.pop("PLATFORM_ADMINS", None)


@pytest.fixture
def db(project):
    return fs.client(project)


@pytest.fixture
def events(stack):  # noqa: F811
    return events_client()


@pytest.fixture
def as_(google_headers):
    def make(who: str) -> dict[str, str]:
        email = who if "@" in who else f"{who}@example.com"
        return google_headers(email)

    return make


@pytest.fixture
def workflow(identity):
    """Ann's workflow (actor octocat) of acme/app on main."""
    return {"Authorization": f"Bearer {identity.github_token('acme')}"}


@pytest.fixture
def put_policy(deployments, as_):
    def make(environment: str = "production", **policy):
        response = deployments.put(f"/v1/policies/{environment}", json=policy, headers=as_("admin"))
        assert response.status_code == 200, response.json
        return response.json

    return make


@pytest.fixture
def canaries(stack, fake_apis):  # noqa: F811
    """The canary function on the same fake (Cloud Run service `web`: web-1 live)."""
    from tests.support.canary import PROJECT, REGION

    os.environ["CLOUD_RUN_API_ENDPOINT"] = fake_apis.address
    os.environ["MONITORING_API_ENDPOINT"] = fake_apis.address
    fake_apis.run.add_service(
        PROJECT,
        REGION,
        "web",
        revisions=["web-1", "web-2", "web-3"],
        traffic=[{"revision": "web-1", "percent": 100}],
    )
    yield make_client("canary")
    for name in ("CLOUD_RUN_API_ENDPOINT", "MONITORING_API_ENDPOINT"):
        os.environ.pop(name, None)
