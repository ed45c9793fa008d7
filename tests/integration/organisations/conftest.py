"""Fixtures of the organisation tests: a platform admin and helpers to register records."""

from __future__ import annotations

import os

import pytest

from tests.conftest import AUDIENCE

PLATFORM_EMAIL = "root@example.com"


@pytest.fixture
def platform_env(base_env):
    os.environ["PLATFORM_ADMINS"] = PLATFORM_EMAIL
    return base_env


@pytest.fixture
def deployments(platform_env):
    from tests.conftest import make_client

    return make_client("deployments")


@pytest.fixture
def platform(identity):
    """Headers of the platform admin (a Google identity, no X-Organisation)."""
    return {"Authorization": f"Bearer {identity.google_token(PLATFORM_EMAIL, AUDIENCE)}"}


@pytest.fixture
def register(deployments, platform):
    """PUT an organisation record as the platform admin and return it."""

    def make(org: str, **record):
        response = deployments.put(f"/v1/organisations/{org}", json=record, headers=platform)
        assert response.status_code == 200, response.json
        return response.json

    return make
