"""The OpenAPI 3.1 document of a function, generated from its routes and pydantic models."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

if TYPE_CHECKING:
    from shared.web import Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code", "details"],
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "details": {"type": "array", "items": {}},
    },
}


def document(title: str, version: str, routes: list[Route]) -> dict[str, Any]:
    """The document of `routes` (their model references already loaded)."""
    models: list[type[BaseModel]] = []
    for route in routes:
        for model in (route.body, *map(_model_of, _success(route).values())):
            if model is not None and model not in models:
                models.append(model)
    _, schema = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    components = schema.get("$defs", {})
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = _operation(route, components)
        paths.setdefault(_openapi_path(route.path), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "parameters": _parameters(route, components),
        "responses": _responses(route),
    }
    if route.tags:
        operation["tags"] = list(route.tags)
    if route.auth != "public":
        operation["security"] = [{"bearer": []}]
    if route.body is not None or route.raw_body:
        content = {}
        if route.body is not None:
            content["application/json"] = {
                "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}
            }
        for mimetype in route.raw_body:
            content[mimetype] = {"schema": {"type": "string", "format": "binary"}}
        operation["requestBody"] = {"required": not route.body_optional, "content": content}
    return operation


def _model_of(response: Any) -> type[BaseModel] | None:
    if isinstance(response, list):
        response = response[0]
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    return None


def _openapi_path(path: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)


def _parameters(route: Route, components: dict[str, Any]) -> list[dict[str, Any]]:
    """Path, query and tenant header parameters; types the query refers to join `components`."""
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.get("$defs", {}).items():
            components.setdefault(name, definition)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if route.auth == "tenant":
        params.append(
            {
                "name": "X-Organisation",
                "in": "header",
                "required": False,
                "description": "tenant, required with Google ID tokens and GitHub PATs",
                "schema": {"type": "string"},
            }
        )
    return params


def _success(route: Route) -> dict[int, Any]:
    """{status: response spec} of a route's success answers."""
    if isinstance(route.response, dict):
        return dict(route.response)
    return {route.status: route.response}


def _responses(route: Route) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {}
    for status, spec in sorted(_success(route).items()):
        responses[str(status)] = _success_response(status, spec)
    codes = ["400"] + (["401", "403"] if route.auth != "public" else []) + ["404", "409"]
    if route.body is not None or route.raw_body:
        codes += ["413", "415"]
    if route.auth != "public":
        codes.append("503")  # a backing service is unavailable; retry
    for code in codes:
        responses.setdefault(code, {"description": "error", "content": error})
    return responses


def _success_response(status: int, spec: Any) -> dict[str, Any]:
    from shared.web import Raw

    model = _model_of(spec)
    if status == 204:
        return {"description": "no content"}
    if isinstance(spec, Raw):
        content = {
            media: {"schema": {"type": "object"}}
            if media == "application/json"
            else {"schema": {"type": "string", "format": "binary"}}
            for media in spec.media_types
        }
        return {"description": "success", "content": content}
    if model is not None:
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
        if isinstance(spec, list):
            schema = {"type": "array", "items": schema}
        return {"description": "success", "content": {"application/json": {"schema": schema}}}
    return {"description": "success"}
