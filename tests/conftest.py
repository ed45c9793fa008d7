"""Shared fixtures: one owner per emulator (session), test identities, per-test projects.

Each test gets its own GOOGLE_CLOUD_PROJECT, so Firestore data never leaks between
tests and nothing needs wiping.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from tests.support.emulators import Emulator
from tests.support.identity import IdentityServer

ROOT = Path(__file__).resolve().parents[1]
ADMIN_EMAIL = "admin@example.com"
VIEWER_EMAIL = "viewer@example.com"
DEPLOYER_EMAIL = "deployer@example.com"
APPROVER_EMAIL = "approver@example.com"
INTERNAL_EMAIL = "scheduler@deployq-test.iam.gserviceaccount.com"
AUDIENCE = "http://deployq.test"


@pytest.fixture(autouse=True)
def _restore_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def firestore_emulator(log_dir):
    emulator = Emulator("firestore", log_dir)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(log_dir):
    emulator = Emulator("pubsub", log_dir)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def identity():
    server = IdentityServer()
    yield server
    server.close()


@pytest.fixture
def project() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def base_env(firestore_emulator, identity, project) -> dict[str, str]:
    """The configuration of a function under test, applied to os.environ."""
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "GOOGLE_CLOUD_PROJECT": project,
        "AUTH_ENABLED": "true",
        "ORG_ACCESS": json.dumps(
            {
                "acme": {
                    ADMIN_EMAIL: "admin",
                    VIEWER_EMAIL: "viewer",
                    DEPLOYER_EMAIL: "deployer",
                    APPROVER_EMAIL: "approver",
                }
            }
        ),
        "INTERNAL_SERVICE_ACCOUNTS": INTERNAL_EMAIL,
        **identity.env(AUDIENCE),
    }
    os.environ.update(env)
    return env


def make_client(name: str):
    """A test client of `functions/<name>/main.py`, configured from os.environ at this moment."""
    import functions_framework

    app = functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py"))
    return app.test_client()


@pytest.fixture
def deployments(base_env):
    return make_client("deployments")


@pytest.fixture
def gh(identity):
    """Headers of a GitHub Actions caller of organisation `acme`."""
    return {"Authorization": f"Bearer {identity.github_token('acme')}"}


@pytest.fixture
def google_headers(identity):
    """Headers factory for a Google identity acting in an organisation."""

    def make(email: str = ADMIN_EMAIL, org: str = "acme") -> dict[str, str]:
        token = identity.google_token(email, AUDIENCE)
        return {"Authorization": f"Bearer {token}", "X-Organisation": org}

    return make


@pytest.fixture
def internal_headers(identity):
    return {"Authorization": f"Bearer {identity.google_token(INTERNAL_EMAIL, AUDIENCE)}"}
