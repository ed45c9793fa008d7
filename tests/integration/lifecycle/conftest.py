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
def deployments(stack, identity, project):  # noqa: F811
    os.environ["PLATFORM_ADMINS"] = PLATFORM_EMAIL
    client = make_client("deployments")
    platform = {"Authorization": f"Bearer {identity.google_token(PLATFORM_EMAIL, AUDIENCE)}"}
    record = {
        "members": MEMBERS,
        "github": {
            "rules": [{"repository": "acme/*", "ref": "refs/heads/main", "role": "approver"}]
        },
        "environments": organisations.environments(project),
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
