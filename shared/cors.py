"""CORS for the console: only the origins in `CONSOLE_ORIGIN` (comma list) may call from a page.

No origin is allowed unless configured; a request from any other origin gets no CORS
headers, so the browser keeps the answer from that page.
"""

from __future__ import annotations

import os

import flask

ALLOWED_HEADERS = "Authorization, Content-Type, X-Organisation, Idempotency-Key"
EXPOSED_HEADERS = "X-Next-Page-Token, Idempotent-Replayed, Content-Disposition"


def allowed_origin(request: flask.Request) -> str | None:
    """The request's Origin when it is one of `CONSOLE_ORIGIN`, else None."""
    origin = request.headers.get("Origin")
    if not origin:
        return None
    configured = {o.strip().rstrip("/") for o in os.environ.get("CONSOLE_ORIGIN", "").split(",")}
    return origin if origin in configured - {""} else None


def preflight(origin: str) -> flask.Response:
    """The answer to an OPTIONS preflight from an allowed origin."""
    response = flask.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return decorate(response, origin)


def decorate(response: flask.Response, origin: str | None) -> flask.Response:
    """Add the CORS headers for an allowed origin (none otherwise)."""
    response.headers.add("Vary", "Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers["Timing-Allow-Origin"] = origin  # the console's own benchmark reads sizes
    return response
