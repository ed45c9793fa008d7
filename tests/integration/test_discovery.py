"""`GET /v1/discovery`: the URLs of the three APIs, without a token."""

from __future__ import annotations

import os

import pytest

from shared.config import ConfigError, Settings
from tests.conftest import make_client


def test_discovery_answers_without_a_token_with_nulls_when_unset(deployments):
    answer = deployments.get("/v1/discovery", base_url="http://127.0.0.1:8080")
    assert answer.status_code == 200
    assert answer.json == {"deployments": "http://127.0.0.1:8080", "packages": None, "canary": None}


def test_discovery_names_the_configured_urls_and_the_url_the_caller_used(base_env):
    os.environ["PACKAGES_URL"] = "https://europe-west1-p.cloudfunctions.net/deployq-packages/"
    os.environ["CANARY_URL"] = "https://europe-west1-p.cloudfunctions.net/deployq-canary"
    os.environ["K_SERVICE"] = "deployq-deployments"
    client = make_client("deployments")
    behind_google = client.get(
        "/v1/discovery",
        base_url="http://europe-west1-p.cloudfunctions.net",
        headers={"X-Forwarded-Proto": "https"},
    )
    assert behind_google.json == {
        "deployments": "https://europe-west1-p.cloudfunctions.net/deployq-deployments",
        "packages": "https://europe-west1-p.cloudfunctions.net/deployq-packages",
        "canary": "https://europe-west1-p.cloudfunctions.net/deployq-canary",
    }
    run_app = client.get("/v1/discovery", base_url="https://deployments-xyz.a.run.app")
    assert run_app.json["deployments"] == "https://deployments-xyz.a.run.app"


def test_discovery_is_in_the_openapi_document_without_security(deployments):
    document = deployments.get("/openapi.json").json
    operation = document["paths"]["/v1/discovery"]["get"]
    assert "security" not in operation
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Discovery"}
    assert set(document["components"]["schemas"]["Discovery"]["properties"]) == {
        "deployments",
        "packages",
        "canary",
    }


@pytest.mark.parametrize("variable", ["PACKAGES_URL", "CANARY_URL"])
def test_a_url_that_is_not_http_fails_at_start(variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: "ftp://x"})
