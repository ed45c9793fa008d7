"""The HTTP layer every function shares: routing, body decoding, auth, errors, OpenAPI.

A function declares `Route`s; `Api.handle(request)` matches the route with
werkzeug's `Map`, authenticates, validates the query and body with pydantic,
calls the handler and maps every domain error to one JSON shape in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from shared import bodies, cors, logs
from shared.auth import Authenticator, Principal
from shared.config import Settings
from shared.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.lazy import Lazy
from shared.web.responses import (
    error_envelope,
    error_response,
    json_framework_errors,
    json_response,
    map_google_error,
    plain,
    validation_error,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

MAX_BODY_BYTES = 1024 * 1024
log = logs.get("web")


class MatchRule(Rule):
    """A werkzeug rule that only matches. Routes are matched, never built into URLs, so
    the two URL builders werkzeug compiles for every rule (90% of the time a `Map` of
    the deployments function's 37 rules takes to build, at each cold start) are not made."""

    def _compile_builder(self, _append_unknown: bool = True):
        def build(*args: Any, **kwargs: Any):
            raise NotImplementedError("deployq's routes are matched, not built into URLs")

        return build


@dataclass(frozen=True)
class Raw:
    """A response that is a file, not a model: its media types (documented as such)."""

    media_types: tuple[str, ...]


@dataclass
class Route:
    """One operation: path (werkzeug syntax), method, handler and what it needs."""

    path: str
    method: str
    handler: Callable[..., Any]
    auth: str = "tenant"  # tenant | internal | platform | public
    role: str = "viewer"
    # Models, or "module:Name" references imported when the route is first served (or
    # the OpenAPI document built), so a function's cold start loads only what it uses.
    body: type[BaseModel] | str | None = None
    query: type[BaseModel] | str | None = None
    # A model, [model], their "module:Name" references, a Raw file, or {status: one of those}
    # when the route answers with more than one success status.
    response: Any = None
    status: int = 200
    summary: str = ""
    raw_body: tuple[str, ...] = ()  # content types passed to the handler undecoded
    max_body: int = MAX_BODY_BYTES
    body_optional: bool = False
    max_depth: int = bodies.MAX_DEPTH  # JSON nesting, checked before decoding
    max_values: int | None = bodies.MAX_VALUES
    tags: tuple[str, ...] = ()


@dataclass
class Context:
    """What a handler gets: the request, the caller and the validated inputs.

    `body` and `query` are the route's validated models, `json` the decoded JSON body,
    `principal`/`actor` the caller, `meta` what the audit log keeps of the request (ip,
    user agent) and `idempotency_key` the validated `Idempotency-Key` header.
    """

    request: flask.Request
    settings: Settings
    principal: Principal | None
    args: dict[str, Any]
    query: Any = None
    body: Any = None
    raw: bytes | None = None
    json: Any = None

    @property
    def org(self) -> str:
        assert self.principal is not None and self.principal.organisation
        return self.principal.organisation

    @property
    def actor(self) -> str | None:
        """Who is calling, as the audit log names them (login, email, `actor` claim)."""
        if self.principal is None:
            return None
        return self.principal.actor or self.principal.subject

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

    @property
    def meta(self) -> dict[str, Any]:
        """The request as events and the audit log record it."""
        return {"ip": self.ip, "user_agent": self.user_agent}

    @property
    def idempotency_key(self) -> str | None:
        """The `Idempotency-Key` header (1 to 255 printable characters, else 400), or None."""
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise BadRequest(
                "Idempotency-Key must be 1 to 255 printable characters",
                details=[{"field": "Idempotency-Key", "error": "invalid"}],
            )
        return key


class Api:
    """Routes of one function, dispatched from its functions-framework entry point."""

    def __init__(self, title: str, settings: Settings, routes: list[Route], version: str = "1.0.0"):
        self.title = title
        self.version = version
        self.settings = settings
        # Every function answers these two without a token.
        self.routes = [
            Route(
                "/health",
                "GET",
                health,
                auth="public",
                response="shared.schemas.responses:Health",
                summary="liveness",
            ),
            Route(
                "/openapi.json",
                "GET",
                self._openapi,
                auth="public",
                response="shared.schemas.responses:OpenApiDocument",
                summary="this API's OpenAPI document",
            ),
            *routes,
        ]
        self._authenticator = Lazy(lambda: Authenticator(self.settings))
        self._resolved: dict[int, Route] = {}
        json_framework_errors()
        self._map = Map(
            [MatchRule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(self.routes)],
            strict_slashes=False,
            merge_slashes=False,
        )

    @property
    def authenticator(self) -> Authenticator:
        return self._authenticator()

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
        """The route with its request models imported (once). Response models are only
        the OpenAPI document's: a route that validates nothing never loads pydantic."""
        route = self._resolved.get(index)
        if route is None:
            route = self.routes[index]
            route = replace(route, body=_load(route.body), query=_load(route.query))
            self._resolved[index] = route
        return route

    def _authenticate(self, route: Route, request: flask.Request) -> Principal | None:
        if route.auth == "public":
            return None
        if route.auth == "internal":
            return self.authenticator.authenticate_internal(request.headers)
        if route.auth == "platform":
            return self.authenticator.authenticate_platform(request.headers)
        principal = self.authenticator.authenticate(request.headers)
        principal.require(route.role)
        return principal

    @staticmethod
    def _query(model: type[BaseModel], request: flask.Request) -> Any:
        from pydantic import ValidationError

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
            payload = bodies.loads(data, max_depth=route.max_depth, max_values=route.max_values)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"request body is not valid JSON: {exc}", code="invalid_json"
            ) from None
        if route.body is None:
            ctx.body = payload
            return
        if not isinstance(payload, dict):
            raise BadRequest("request body must be a JSON object", code="invalid_json")
        from pydantic import ValidationError

        try:
            ctx.body = route.body.model_validate(payload)
        except ValidationError as exc:
            raise validation_error(exc, "request body") from None
        ctx.json = payload

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
        if status >= 400:
            result = error_envelope(result, status)
        result = [plain(r) for r in result] if isinstance(result, list) else plain(result)
        return json_response(result, status, headers)

    # -- OpenAPI ------------------------------------------------------------------

    def _openapi(self, ctx: Context) -> dict[str, Any]:
        return self.openapi()

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document, generated from the routes and their pydantic models."""
        from shared.web.openapi import document

        routes = [_with_responses(self.route(index)) for index in range(len(self.routes))]
        return document(self.title, self.version, routes)


def health(ctx: Context) -> dict[str, str]:
    return {"status": "healthy"}


def _load(reference: Any) -> Any:
    """`"package.module:Name"` -> the object; anything else as it is."""
    if not isinstance(reference, str):
        return reference
    import importlib

    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def _with_responses(route: Route) -> Route:
    """The route with its response models imported."""
    response = route.response
    if isinstance(response, dict):
        return replace(route, response={k: _load_response(v) for k, v in response.items()})
    return replace(route, response=_load_response(response))


def _load_response(reference: Any) -> Any:
    if isinstance(reference, list):
        return [_load(r) for r in reference]
    return _load(reference)
