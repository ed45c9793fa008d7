"""JSON nested too deeply is a 400 naming the problem, on every JSON route of every function."""

from __future__ import annotations

import base64
import json
import re

import pytest

from shared.packages.upload import MAX_FILE_DEPTH
from tests.conftest import ADMIN_EMAIL, make_client
from tests.support.governance import events_client, push_body

ID = "0b4c8f8e-1111-4222-8333-444455556666"
IMPORT = "/v1/packages/import"
HTTP_FUNCTIONS = ("deployments", "packages", "worker", "canary")


def nested_object(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES = [
    pytest.param(nested_object(5000), id="object-5000"),
    pytest.param(nested_array(5000), id="array-5000"),
    pytest.param(nested_object(21), id="object-21"),
    pytest.param(nested_array(21), id="array-21"),
]


def json_routes(client) -> list[tuple[str, str, bool]]:
    """(method, path, internal) of every operation taking a JSON body, from /openapi.json."""
    document = client.get("/openapi.json").json
    routes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content and "$ref" in content["application/json"]["schema"]:
                tenant = any(p["in"] == "header" for p in operation["parameters"])
                concrete = re.sub(r"\{[a-z_]+\}", ID, path)
                routes.append((method.upper(), concrete, not tenant))
    return routes


@pytest.fixture
def clients(base_env):
    return {name: make_client(name) for name in HTTP_FUNCTIONS}


def assert_too_deep(response):
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert set(body) == {"error", "code", "details"}
    assert body["code"] == "too_deep" and "nested" in body["error"], body


@pytest.mark.parametrize("data", BODIES)
def test_every_json_route_refuses_deep_nesting(clients, google_headers, internal_headers, data):
    seen = 0
    for client in clients.values():
        for method, path, internal in json_routes(client):
            headers = internal_headers if internal else google_headers(ADMIN_EMAIL)
            response = client.open(
                path, method=method, data=data, content_type="application/json", headers=headers
            )
            if path == IMPORT and len(data) < 1000:
                # An imported file wraps records that may nest 20 levels themselves: 21 levels
                # is refused as no package, and the file's own limit as too deep.
                assert response.status_code == 400, response.json
                deeper = nested_object(MAX_FILE_DEPTH + 2)
                response = client.open(
                    path,
                    method=method,
                    data=deeper,
                    content_type="application/json",
                    headers=headers,
                )
            assert_too_deep(response)
            seen += 1
    assert seen >= 15  # create, PATCH, claim, packages, import, deploy, canaries, tasks...


def test_depth_twenty_is_accepted_by_the_decoder(clients, google_headers):
    # Twenty levels decode; the route then validates the body as usual (400 validation_error).
    body = b'{"name":' + nested_object(19) + b"}"
    response = clients["deployments"].post(
        "/v1/deployments", data=body, content_type="application/json", headers=google_headers()
    )
    assert response.status_code == 400 and response.json["code"] == "validation_error"


def test_a_field_nested_past_firestores_limit_is_refused(clients, google_headers):
    deep = json.loads(nested_object(20))
    body = {"name": "api", "version": "1", "provider": "gcp", "type": "k8s"}
    response = clients["deployments"].post(
        "/v1/deployments",
        json={**body, "pipeline_extra_params": deep},
        headers=google_headers(),
    )
    assert_too_deep(response)


@pytest.fixture
def events(base_env):
    return events_client()


def cloud_event(data) -> dict:
    return {
        "specversion": "1.0",
        "id": "e-1",
        "type": "deployq.deployment.created",
        "source": "//deployq/deployments",
        "subject": f"deployments/{ID}",
        "data": data,
    }


@pytest.mark.parametrize("depth", [5000, 23])
def test_events_structured_cloud_event_too_deep_is_400(events, depth):
    inner = nested_object(depth - 2).decode()
    text = json.dumps(cloud_event({"organisation": "acme", "after": "X"})).replace('"X"', inner)
    response = events.post("/", data=text, content_type="application/cloudevents+json")
    assert_too_deep(response)


@pytest.mark.parametrize("data", BODIES)
def test_events_any_deep_body_is_400(events, data):
    response = events.post("/", data=data, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("depth", [5000, 23])
def test_events_deep_pubsub_message_is_acknowledged_and_ignored(events, depth, base_env, project):
    from shared.store import firestore as fs

    inner = nested_object(depth - 2).decode()
    text = json.dumps(cloud_event({"organisation": "acme", "after": "X"})).replace('"X"', inner)
    body = push_body(text.encode())
    assert base64.b64decode(body["message"]["data"]).decode() == text
    response = events.post("/", json=body)
    assert response.status_code == 200
    audit = fs.client(project).collection("organisations/acme/audit_logs")
    assert list(audit.limit(1).stream()) == []


def test_events_answers_other_refusals_in_the_error_shape(events):
    response = events.get("/")
    assert response.status_code == 405
    assert set(response.json) == {"error", "code", "details"}
