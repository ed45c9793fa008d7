"""`deployq openapi-diff`: which changes between two OpenAPI documents break clients."""

from __future__ import annotations

import copy
import json

import pytest

from cli.main import main
from cli.openapi_diff import diff, is_breaking, path_key

BASE = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/v1/items": {
            "get": {
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["a", "b", "c"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Item"},
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ItemCreate"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                        },
                    }
                },
            },
        },
        "/v1/items/{item_id}": {
            "get": {
                "parameters": [
                    {
                        "name": "item_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                        },
                    }
                },
            },
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id", "name", "size"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "size": {"type": "integer"},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "owner": {"$ref": "#/components/schemas/Owner"},
                },
            },
            "Owner": {
                "type": "object",
                "properties": {"login": {"type": "string"}, "email": {"type": "string"}},
            },
            "ItemCreate": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "size": {"type": "number"},
                    "kind": {"type": "string", "enum": ["x", "y"]},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
        }
    },
}


def changed(edit) -> list:
    new = copy.deepcopy(BASE)
    edit(new)
    return diff(BASE, new)


def schemas(doc):
    return doc["components"]["schemas"]


def get_items(doc):
    return doc["paths"]["/v1/items"]["get"]


BREAKING = [
    ("path removed", lambda d: d["paths"].pop("/v1/items/{item_id}"), "path removed"),
    (
        "operation removed",
        lambda d: d["paths"]["/v1/items/{item_id}"].pop("delete"),
        "operation removed",
    ),
    (
        "response field removed",
        lambda d: schemas(d)["Item"]["properties"].pop("size"),
        "response field removed",
    ),
    (
        "nested response field removed",
        lambda d: schemas(d)["Owner"]["properties"].pop("email"),
        "response field removed",
    ),
    (
        "response field no longer required",
        lambda d: schemas(d)["Item"]["required"].remove("name"),
        "no longer required",
    ),
    (
        "response type changed",
        lambda d: schemas(d)["Item"]["properties"].update(size={"type": "string"}),
        "type changed",
    ),
    (
        "response field made nullable",
        lambda d: schemas(d)["Item"]["properties"].update(
            name={"anyOf": [{"type": "string"}, {"type": "null"}]}
        ),
        "may now be null",
    ),
    (
        "success response removed",
        lambda d: d["paths"]["/v1/items"]["post"]["responses"].update(
            {"200": d["paths"]["/v1/items"]["post"]["responses"].pop("201")}
        ),
        "success response removed",
    ),
    (
        "new required request field",
        lambda d: (
            schemas(d)["ItemCreate"]["properties"].update(team={"type": "string"}),
            schemas(d)["ItemCreate"]["required"].append("team"),
        ),
        "new required field",
    ),
    (
        "optional request field became required",
        lambda d: schemas(d)["ItemCreate"]["required"].append("size"),
        "field became required",
    ),
    (
        "request type narrowed",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(size={"type": "integer"}),
        "type narrowed",
    ),
    (
        "request null no longer accepted",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(note={"type": "string"}),
        "type narrowed",
    ),
    (
        "request enum value removed",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(
            kind={"type": "string", "enum": ["x"]}
        ),
        "enum values removed: y",
    ),
    (
        "request maxLength tightened",
        lambda d: schemas(d)["ItemCreate"]["properties"]["name"].update(maxLength=10),
        "maxLength tightened from 100 to 10",
    ),
    (
        "request pattern added",
        lambda d: schemas(d)["ItemCreate"]["properties"]["name"].update(pattern="^[a-z]+$"),
        "pattern changed",
    ),
    (
        "new required query parameter",
        lambda d: get_items(d)["parameters"].append(
            {"name": "team", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
        "new required parameter",
    ),
    (
        "query parameter became required",
        lambda d: get_items(d)["parameters"][0].update(required=True),
        "parameter became required",
    ),
    (
        "query enum narrowed",
        lambda d: get_items(d)["parameters"][0]["schema"].update(enum=["a", "b"]),
        "enum values removed: c",
    ),
    (
        "query maximum lowered",
        lambda d: get_items(d)["parameters"][1]["schema"].update(maximum=100),
        "maximum tightened",
    ),
    (
        "request content type dropped",
        lambda d: d["paths"]["/v1/items"]["post"]["requestBody"].update(
            content={"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
        ),
        "no longer accepted",
    ),
    (
        "request field no longer accepted by a closed object",
        lambda d: (
            schemas(d)["ItemCreate"]["properties"].pop("kind"),
            schemas(d)["ItemCreate"].update(additionalProperties=False),
        ),
        "field no longer accepted",
    ),
]


@pytest.mark.parametrize("name,edit,message", BREAKING, ids=[b[0] for b in BREAKING])
def test_breaking_changes(name, edit, message):
    changes = changed(edit)
    assert is_breaking(changes), changes
    assert any(message in c.message for c in changes if c.breaking), changes


COMPATIBLE = [
    ("path added", lambda d: d["paths"].update({"/v1/other": {"get": {"responses": {}}}})),
    (
        "operation added",
        lambda d: d["paths"]["/v1/items/{item_id}"].update(
            patch={"responses": {"200": {"description": "ok"}}}
        ),
    ),
    (
        "response field added",
        lambda d: schemas(d)["Item"]["properties"].update(extra={"type": "string"}),
    ),
    (
        "optional request field added",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(extra={"type": "string"}),
    ),
    (
        "request type widened",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(kind={"type": "string"}),
    ),
    (
        "request enum value added",
        lambda d: schemas(d)["ItemCreate"]["properties"].update(
            kind={"type": "string", "enum": ["x", "y", "z"]}
        ),
    ),
    (
        "request limit relaxed",
        lambda d: schemas(d)["ItemCreate"]["properties"]["name"].update(maxLength=500),
    ),
    (
        "optional query parameter added",
        lambda d: get_items(d)["parameters"].append(
            {"name": "q", "in": "query", "schema": {"type": "string"}}
        ),
    ),
    (
        "path parameter renamed",
        lambda d: d["paths"].update({"/v1/items/{id}": d["paths"].pop("/v1/items/{item_id}")}),
    ),
    ("response field made required", lambda d: schemas(d)["Item"]["required"].append("note")),
    ("summary changed", lambda d: get_items(d).update(summary="list items, newest first")),
]


@pytest.mark.parametrize("name,edit", COMPATIBLE, ids=[c[0] for c in COMPATIBLE])
def test_compatible_changes(name, edit):
    changes = changed(edit)
    assert not is_breaking(changes), [c.line() for c in changes]


def test_an_identical_document_has_no_changes():
    assert diff(BASE, copy.deepcopy(BASE)) == []


def test_recursive_schemas_terminate():
    doc = copy.deepcopy(BASE)
    schemas(doc)["Owner"]["properties"]["manager"] = {"$ref": "#/components/schemas/Owner"}
    new = copy.deepcopy(doc)
    schemas(new)["Owner"]["properties"].pop("login")
    changes = diff(doc, new)
    assert any("owner.login" in c.location for c in changes if c.breaking)


def test_path_key_ignores_parameter_names():
    assert path_key("/v1/a/{id}/b") == path_key("/v1/a/{a_id}/b/")


def test_the_command_exits_1_on_breaking_changes(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(BASE))
    edited = copy.deepcopy(BASE)
    schemas(edited)["Item"]["properties"].pop("size")
    new.write_text(json.dumps(edited))

    assert main(["openapi-diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "BREAKING  GET /v1/items response 200[].size: response field removed" in out
    assert "breaking change(s)" in out

    assert main(["openapi-diff", str(old), str(new), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["breaking"] is True and report["breaking_count"] == len(report["changes"])

    assert main(["openapi-diff", str(old), str(old)]) == 0
    assert "no breaking changes" in capsys.readouterr().out


def test_unreadable_documents_are_usage_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["openapi-diff", str(bad), str(bad)]) == 2
    assert main(["openapi-diff", str(tmp_path / "missing.json"), str(bad)]) == 2
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert main(["openapi-diff", str(other), str(other)]) == 2
    assert "not an OpenAPI document" in capsys.readouterr().err


def test_the_deployments_api_against_itself_and_a_removed_field():
    """The real document the deployments function serves (generated from its routes)."""
    import os

    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "deployq-unit")
    from shared.config import Settings
    from shared.schemas.deployment import Deployment, DeploymentCreate
    from shared.web import Api, Route

    def handler(ctx):
        return {}

    def document(model):
        return Api(
            "d",
            Settings(),
            [
                Route(
                    "/v1/deployments",
                    "POST",
                    handler,
                    body=DeploymentCreate,
                    response=model,
                    status=201,
                )
            ],
        ).openapi()

    assert diff(document(Deployment), document(Deployment)) == []

    old = document(Deployment)
    new = copy.deepcopy(old)
    new["components"]["schemas"]["Deployment"]["properties"].pop("commit_sha")
    changes = diff(old, new)
    assert [c.location for c in changes if c.breaking] == ["response 201.commit_sha"]


def test_swagger_2_responses_and_body_parameters():
    old = {
        "swagger": "2.0",
        "paths": {
            "/pets": {
                "post": {
                    "parameters": [
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}},
                            },
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "schema": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": {"type": "integer"}},
                            },
                        }
                    },
                }
            }
        },
    }
    new = copy.deepcopy(old)
    post = new["paths"]["/pets"]["post"]
    post["responses"]["200"]["schema"]["properties"].pop("id")
    post["parameters"][0]["schema"].update(required=["name", "tag"])
    messages = {c.message for c in diff(old, new) if c.breaking}
    assert {"response field removed", "new required field"} <= messages
