"""Bad input on every route: a 4xx JSON error naming the problem, never a 500."""

import pytest

ID = "0b4c8f8e-1111-4222-8333-444455556666"
GOOD = {"name": "api", "version": "1", "provider": "gcp", "type": "k8s"}

BODY_ROUTES = [
    ("POST", "/v1/deployments"),
    ("PATCH", f"/v1/deployments/{ID}"),
    ("POST", "/v1/deployments/claim"),
]
ALL_ROUTES = BODY_ROUTES + [
    ("GET", "/v1/deployments"),
    ("GET", f"/v1/deployments/{ID}"),
    ("POST", "/v1/deployments/rollback?name=a&provider=gcp&cloud_account_id=x&region=y"),
    ("POST", f"/v1/deployments/{ID}/rollback"),
]


def assert_error(response, status, *words):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.json
    assert set(body) == {"error", "code", "details"} and body["error"] and body["code"]
    text = (body["error"] + str(body["details"])).lower()
    for word in words:
        assert word.lower() in text, (word, body)


@pytest.mark.parametrize("method, path", BODY_ROUTES)
@pytest.mark.parametrize(
    "data, content_type, status, word",
    [
        (b"{not json", "application/json", 400, "json"),
        (b"[1, 2]", "application/json", 400, "object"),
        (b'"text"', "application/json", 400, "object"),
        (b"\xff\xfe\x00", "application/json", 400, "json"),
        (b"name=api", "application/x-www-form-urlencoded", 415, "content-type"),
        (b"x" * (1024 * 1024 + 10), "application/json", 413, "larger"),
    ],
)
def test_malformed_bodies(deployments, gh, method, path, data, content_type, status, word):
    response = deployments.open(
        path, method=method, data=data, content_type=content_type, headers=gh
    )
    assert_error(response, status, word)


@pytest.mark.parametrize(
    "body, field",
    [
        ({**GOOD, "name": 42}, "name"),
        ({**GOOD, "name": None}, "name"),
        ({**GOOD, "version": ["1"]}, "version"),
        ({**GOOD, "provider": "gcp2"}, "provider"),
        ({**GOOD, "type": "lambda"}, "type"),
        ({**GOOD, "auto": "false"}, "auto"),
        ({**GOOD, "region": {"a": 1}}, "region"),
        ({**GOOD, "commit_timestamp": "last tuesday"}, "commit_timestamp"),
        ({**GOOD, "commit_timestamp": "2026-01-01T00:00:00"}, "commit_timestamp"),
        ({**GOOD, "notes": "x" * 20_000}, "notes"),
        ({"version": "1", "provider": "gcp", "type": "k8s"}, "name"),
    ],
)
def test_create_validation_names_the_field(deployments, gh, body, field):
    response = deployments.post("/v1/deployments", json=body, headers=gh)
    assert_error(response, 400, field)
    assert any(d["field"] == field for d in response.json["details"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "done"}, "status"),
        ({"status": 3}, "status"),
        ({"notes": 5}, "notes"),
        ({"organisation": "x"}, "organisation"),
        ({"override_reason": ""}, "override_reason"),
    ],
)
def test_patch_validation_names_the_field(deployments, gh, body, field):
    created = deployments.post("/v1/deployments", json=GOOD, headers=gh).json
    response = deployments.patch(f"/v1/deployments/{created['id']}", json=body, headers=gh)
    assert_error(response, 400, field)


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("status=finished", "status"),
        ("provider=ibm", "provider"),
        ("trigger=cron", "trigger"),
        ("page_token=garbage!", "page_token"),
    ],
)
def test_list_query_validation(deployments, gh, query, field):
    assert_error(deployments.get(f"/v1/deployments?{query}", headers=gh), 400, field)


@pytest.mark.parametrize(
    "bad_id",
    ["nope", "0B4C8F8E-1111-4222-8333-444455556666", "../../etc", "a" * 600, "%00", "1;drop"],
)
def test_bad_ids_are_404(deployments, gh, bad_id):
    for method in ("GET", "PATCH"):
        kwargs = {"json": {"status": "deployed"}} if method == "PATCH" else {}
        response = deployments.open(
            f"/v1/deployments/{bad_id}", method=method, headers=gh, **kwargs
        )
        assert_error(response, 404)
    assert_error(deployments.post(f"/v1/deployments/{bad_id}/rollback", headers=gh), 404)


@pytest.mark.parametrize("method, path", ALL_ROUTES)
def test_every_route_needs_a_token(deployments, method, path):
    assert_error(deployments.open(path, method=method, json=GOOD), 401, "token")


def test_unknown_routes_and_methods(deployments, gh):
    assert_error(deployments.get("/v2/deployments", headers=gh), 404)
    assert_error(deployments.delete(f"/v1/deployments/{ID}", headers=gh), 405)
    assert_error(deployments.put("/v1/deployments", json=GOOD, headers=gh), 405)


def test_rollback_accepts_an_empty_body_with_any_content_type(deployments, gh):
    path = "/v1/deployments/rollback?name=a&provider=gcp&cloud_account_id=x&region=y"
    response = deployments.post(path, data=b"", content_type="application/json", headers=gh)
    assert_error(response, 404, "nothing")
    response = deployments.post(path, data=b"", content_type="text/plain", headers=gh)
    assert_error(response, 404)


def test_bad_idempotency_key(deployments, gh):
    response = deployments.post(
        "/v1/deployments", json=GOOD, headers={**gh, "Idempotency-Key": "k" * 300}
    )
    assert_error(response, 400, "Idempotency-Key")
