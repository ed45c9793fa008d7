"""The HTTP layer every function shares: routing, body decoding, auth, errors, OpenAPI.

A function declares `Route`s; `Api.handle(request)` matches the route with
werkzeug's `Map`, authenticates, validates the query and body with pydantic,
calls the handler and maps every domain error to one JSON shape in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import flask
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from shared import cors, logs
from shared.auth import Authenticator, Principal
from shared.config import Settings
from shared.errors import (
    ApiError,
    BadRequest,
    ConcurrentUpdate,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)

MAX_BODY_BYTES = 1024 * 1024
log = logs.get("web")


@dataclass
class Route:
    """One operation: path (werkzeug syntax), method, handler and what it needs."""

    path: str
    method: str
    handler: Callable[..., Any]
    auth: str = "tenant"  # tenant | internal | public
    role: str = "viewer"
    # Models, or "module:Name" references imported when the route is first served (or
    # the OpenAPI document built), so a function's cold start loads only what it uses.
    body: type[BaseModel] | str | None = None
    query: type[BaseModel] | str | None = None
    response: Any = None  # a model, [model], or their "module:Name" references
    status: int = 200
    summary: str = ""
    raw_body: tuple[str, ...] = ()  # content types passed to the handler undecoded
    max_body: int = MAX_BODY_BYTES
    body_optional: bool = False
    tags: tuple[str, ...] = ()


@dataclass
class Context:
    """What a handler gets: the request, the caller and the validated inputs."""

    request: flask.Request
    settings: Settings
    principal: Principal | None
    args: dict[str, Any]
    query: Any = None
    body: Any = None
    raw: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def org(self) -> str:
        assert self.principal is not None and self.principal.organisation
        return self.principal.organisation

    @property
    def ip(self) -> str | None:
        # Google's front end appends the address it saw; earlier entries are the client's word.
        forwarded = self.request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[-1].strip()
        return self.request.remote_addr

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("User-Agent")


def pydantic_details(exc: ValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "body"
        details.append({"field": where, "error": error["msg"]})
    return details


def validation_error(exc: ValidationError, what: str) -> BadRequest:
    details = pydantic_details(exc)
    summary = "; ".join(f"{d['field']}: {d['error']}" for d in details[:5])
    return BadRequest(f"invalid {what}: {summary}", code="validation_error", details=details)


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    body = json.dumps(payload, default=_json_default, separators=(",", ":"))
    response = flask.Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_response(error: ApiError):
    return json_response(error.body(), error.status)


def map_google_error(exc: Exception) -> ApiError | None:
    """Google API errors that are the caller's to retry, as 409/503; None for the rest."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.InvalidArgument):
        return BadRequest(f"the request was refused by the backing service: {exc.message}")
    if isinstance(exc, gexc.Aborted):
        return ConcurrentUpdate("the record changed concurrently; retry the request")
    if isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError)):
        return ServiceUnavailable("a backing service is unavailable; retry the request")
    return None


class Api:
    """Routes of one function, dispatched from its functions-framework entry point."""

    def __init__(self, title: str, settings: Settings, routes: list[Route], version: str = "1.0.0"):
        self.title = title
        self.version = version
        self.settings = settings
        # Every function answers these two without a token.
        self.routes = [
            Route("/health", "GET", health, auth="public", summary="liveness"),
            Route(
                "/openapi.json",
                "GET",
                self._openapi,
                auth="public",
                summary="this API's OpenAPI document",
            ),
            *routes,
        ]
        self._authenticator: Authenticator | None = None
        self._resolved: dict[int, Route] = {}
        self._map = Map(
            [Rule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(self.routes)],
            strict_slashes=False,
            merge_slashes=False,
        )

    @property
    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            self._authenticator = Authenticator(self.settings)
        return self._authenticator

    def handle(self, request: flask.Request):
        """Serve one request, with CORS headers for the console's origin (shared/cors.py)."""
        origin = cors.allowed_origin(request)
        if origin and request.method == "OPTIONS":
            return cors.preflight(origin)
        return cors.decorate(self._handle(request), origin)

    def _handle(self, request: flask.Request):
        """Serve one request; never lets an exception escape as a traceback."""
        logs.set_trace(request.headers.get("X-Cloud-Trace-Context"))
        try:
            return self._dispatch(request)
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - the one place errors become responses
            mapped = map_google_error(exc)
            if mapped is not None:
                log.warning("backing service error: %s", exc)
                return error_response(mapped)
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(ApiError("internal error; it has been logged"))

    def _dispatch(self, request: flask.Request):
        adapter = self._map.bind("localhost", path_info=request.path, url_scheme="http")
        try:
            index, args = adapter.match(request.path, method=request.method)
        except HTTPException as exc:
            if exc.code == 405:
                raise MethodNotAllowed(
                    f"{request.method} is not allowed on {request.path}"
                ) from None
            raise NotFound(f"no route {request.method} {request.path}") from None
        route = self.route(index)
        principal = self._authenticate(route, request)
        ctx = Context(request=request, settings=self.settings, principal=principal, args=args)
        if route.query is not None:
            ctx.query = self._query(route.query, request)
        self._body(route, request, ctx)
        return self._respond(route, route.handler(ctx, **args))

    def route(self, index: int) -> Route:
        """The route with its model references imported (once)."""
        route = self._resolved.get(index)
        if route is None:
            route = self.routes[index]
            route = replace(
                route,
                body=_load(route.body),
                query=_load(route.query),
                response=[_load(r) for r in route.response]
                if isinstance(route.response, list)
                else _load(route.response),
            )
            self._resolved[index] = route
        return route

    def _authenticate(self, route: Route, request: flask.Request) -> Principal | None:
        if route.auth == "public":
            return None
        if route.auth == "internal":
            return self.authenticator.authenticate_internal(request.headers)
        principal = self.authenticator.authenticate(request.headers)
        principal.require(route.role)
        return principal

    @staticmethod
    def _query(model: type[BaseModel], request: flask.Request) -> Any:
        values = {key: request.args.get(key) for key in request.args}
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise validation_error(exc, "query parameters") from None

    @staticmethod
    def _read(route: Route, request: flask.Request) -> bytes:
        length = request.content_length
        if length is not None and length > route.max_body:
            raise PayloadTooLarge(f"request body is larger than {route.max_body} bytes")
        data = request.stream.read(route.max_body + 1)
        if len(data) > route.max_body:
            raise PayloadTooLarge(f"request body is larger than {route.max_body} bytes")
        return data

    def _body(self, route: Route, request: flask.Request, ctx: Context) -> None:
        if (
            request.method in ("GET", "HEAD", "DELETE")
            and route.body is None
            and not route.raw_body
        ):
            return
        data = self._read(route, request) if request.content_length != 0 else b""
        if not data:
            if route.body is not None and not route.body_optional:
                raise BadRequest("request body is required", code="empty_body")
            return
        mimetype = request.mimetype or ""
        if mimetype in route.raw_body:
            ctx.raw = data
            return
        if route.body is None and not route.raw_body:
            if data.strip():
                # POST routes without a body accept an empty JSON object too.
                if data.strip() not in (b"{}", b"null"):
                    raise BadRequest("this route takes no request body", code="unexpected_body")
            return
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            accepted = ", ".join(("application/json",) + route.raw_body)
            raise UnsupportedMediaType(f"Content-Type must be {accepted}, got {mimetype or 'none'}")
        try:
            payload = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"request body is not valid JSON: {exc}", code="invalid_json"
            ) from None
        if route.body is None:
            ctx.body = payload
            return
        if not isinstance(payload, dict):
            raise BadRequest("request body must be a JSON object", code="invalid_json")
        try:
            ctx.body = route.body.model_validate(payload)
        except ValidationError as exc:
            raise validation_error(exc, "request body") from None
        ctx.extra["json"] = payload

    @staticmethod
    def _respond(route: Route, result: Any):
        if isinstance(result, flask.Response):
            return result
        status, headers = route.status, {}
        if isinstance(result, tuple):
            result, status, *rest = result
            headers = rest[0] if rest else {}
        if status == 204:
            return flask.Response(status=204)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        elif isinstance(result, list):
            result = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in result]
        return json_response(result, status, headers)

    # -- OpenAPI ------------------------------------------------------------------

    def _openapi(self, ctx: Context) -> dict[str, Any]:
        return self.openapi()

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document, generated from the routes and their pydantic models."""
        from pydantic.json_schema import models_json_schema

        routes = [self.route(index) for index in range(len(self.routes))]
        models: list[type[BaseModel]] = []
        for route in routes:
            for model in (route.body, _model_of(route.response)):
                if model is not None and model not in models:
                    models.append(model)
        _, schema = models_json_schema(
            [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.get("$defs", {})
        components["Error"] = {
            "type": "object",
            "required": ["error", "code", "details"],
            "properties": {
                "error": {"type": "string"},
                "code": {"type": "string"},
                "details": {"type": "array", "items": {}},
            },
        }
        paths: dict[str, dict[str, Any]] = {}
        for route in routes:
            path = _openapi_path(route.path)
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
                operation["requestBody"] = {
                    "required": not route.body_optional,
                    "content": content,
                }
            paths.setdefault(path, {})[route.method.lower()] = operation
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


def health(ctx: Context) -> dict[str, str]:
    return {"status": "healthy"}


def _load(reference: Any) -> Any:
    """`"package.module:Name"` -> the object; anything else as it is."""
    if not isinstance(reference, str):
        return reference
    import importlib

    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def _model_of(response: Any) -> type[BaseModel] | None:
    if isinstance(response, list):
        response = response[0]
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    return None


def _openapi_path(path: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)


def _parameters(route: Route, components: dict[str, Any]) -> list[dict[str, Any]]:
    """Path, query and tenant header parameters; types the query refers to join `components`."""
    import re

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


def _responses(route: Route) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {}
    model = _model_of(route.response)
    if route.status == 204:
        responses["204"] = {"description": "no content"}
    elif model is not None:
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
        if isinstance(route.response, list):
            schema = {"type": "array", "items": schema}
        responses[str(route.status)] = {
            "description": "success",
            "content": {"application/json": {"schema": schema}},
        }
    else:
        responses[str(route.status)] = {"description": "success"}
    codes = ["400"] + (["401", "403"] if route.auth != "public" else []) + ["404", "409"]
    for code in codes:
        responses[code] = {"description": "error", "content": error}
    return responses
