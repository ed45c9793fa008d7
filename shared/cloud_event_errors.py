"""Error answers of a CloudEvent function, in deployq's `{"error", "code", "details"}` shape.

functions-framework parses the CloudEvent before the function runs; a body it cannot parse
(nested thousands of levels deep, a JSON array, neither a CloudEvent nor a background
event) is the sender's fault and answers 400. An error raised by the function itself stays
a 5xx, so Pub/Sub redelivers the message.
"""

from __future__ import annotations

import json

import flask
from werkzeug.exceptions import HTTPException

from shared import bodies, logs
from shared.errors import ApiError, BadRequest

log = logs.get("events")


def entered() -> None:
    """Mark the request as parsed: errors from here on are the function's own."""
    flask.g.deployq_event_parsed = True


def response(error: ApiError) -> flask.Response:
    return flask.Response(json.dumps(error.body()), error.status, mimetype="application/json")


def handle(exc: Exception, max_depth: int) -> flask.Response:
    """The answer to any exception of a CloudEvent request (register for Exception)."""
    if isinstance(exc, ApiError):
        return response(exc)
    if isinstance(exc, RecursionError):
        return response(bodies.TooDeep(f"JSON is nested too deeply; at most {max_depth} levels"))
    parsed = flask.g.get("deployq_event_parsed", False)
    if isinstance(exc, HTTPException) and exc.code is not None and exc.code < 500:
        if exc.code == 400:
            return response(BadRequest("the body is neither a CloudEvent nor a Pub/Sub push"))
        error = ApiError(exc.name, code=exc.name.lower().replace(" ", "_"))
        error.status = exc.code
        return response(error)
    if not parsed:
        log.warning("refused a body that is not a CloudEvent: %s", type(exc).__name__)
        return response(BadRequest("the body is neither a CloudEvent nor a Pub/Sub push"))
    log.exception("event handling failed; the message will be redelivered")
    return response(ApiError("internal error; it has been logged"))
