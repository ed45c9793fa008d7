"""Answers in JSON: success bodies, the one error shape, and the errors of pydantic, Google
APIs and Flask itself mapped to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import flask
from werkzeug.exceptions import HTTPException

from shared.errors import (
    ApiError,
    BadRequest,
    ConcurrentUpdate,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)

if TYPE_CHECKING:
    from pydantic import ValidationError


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


def plain(value: Any) -> Any:
    """A pydantic model as JSON-ready data (pydantic is loaded only by routes with models)."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _json_default(value: Any) -> Any:
    dumped = plain(value)
    if dumped is not value:
        return dumped
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_response(error: ApiError):
    return json_response(error.body(), error.status)


def map_google_error(exc: Exception) -> ApiError | None:
    """Google API errors that are the caller's to retry, as 409/503; None for the rest."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.InvalidArgument):
        from shared.refusals import invalid_write

        return BadRequest(invalid_write(exc), code="refused")
    if isinstance(exc, gexc.Aborted):
        return ConcurrentUpdate("the record changed concurrently; retry the request")
    if isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError)):
        return ServiceUnavailable("a backing service is unavailable; retry the request")
    return None


def json_framework_errors() -> None:
    """Errors answered by Flask itself (a path its router refuses, e.g. one holding a newline)
    in the one JSON error shape too; a no-op outside a functions-framework app."""
    import functions_framework

    def answer(exc: HTTPException):
        status = exc.code or 500
        if status == 404:
            return error_response(NotFound("no such route"))
        if status == 405:
            return error_response(MethodNotAllowed("method not allowed on this route"))
        error = ApiError(exc.name if status < 500 else "internal error; it has been logged")
        error.status, error.code = status, (exc.name or "error").lower().replace(" ", "_")
        return error_response(error)

    try:
        functions_framework.errorhandler(HTTPException)(answer)
    except AssertionError:  # an app of an earlier create_app that already served (tests)
        pass


def error_envelope(result: Any, status: int) -> dict[str, Any]:
    """A handler's error answer in the one error shape (its own keys kept beside it)."""
    if isinstance(result, dict) and {"error", "code", "details"} <= set(result):
        return result
    extra = result if isinstance(result, dict) else {}
    message = extra.get("error") or extra.get("reason") or extra.get("message")
    code = {400: "invalid_request", 404: "not_found", 409: "conflict"}.get(status, "refused")
    return {
        **extra,
        "error": str(message or f"request refused (HTTP {status})"),
        "code": str(extra.get("code") or code),
        "details": extra.get("details") if isinstance(extra.get("details"), list) else [],
    }
