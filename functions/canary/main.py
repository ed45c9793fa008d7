"""Canary rollouts of Cloud Run revisions (`canary`): start, check, sweep, promote, abort."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import flask
import functions_framework

from shared import logs
from shared.canary.service import Canaries, canaries_for
from shared.config import load_settings_or_exit
from shared.errors import Forbidden
from shared.models.canary import public
from shared.web import Api, Context, Route

if TYPE_CHECKING:
    from shared.schemas.canary import CheckRequest

# The request and response shapes load when a route first needs them.
C = "shared.schemas.canary:"
SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)
# Path-routed URLs (`.../[prefix]canary/v1/...`) reach the routes without that segment.
PATH_PREFIX = re.compile(r"^/[A-Za-z0-9_-]*canary(/.+)$")


def engine() -> Canaries:
    """The process's canary service (clients made on first use)."""
    return canaries_for(SETTINGS)


def with_checks(record: dict) -> dict:
    return public(record, engine().store.checks(record["organisation"], record["id"]))


def list_canaries(ctx: Context):
    status = ctx.query.status.value if ctx.query.status else None
    records = engine().store.list(ctx.org, status, ctx.query.limit)
    return [public(r, [r["last_check"]] if r.get("last_check") else []) for r in records]


def start_canary(ctx: Context):
    check_override(ctx, ctx.body.override_reason)
    return with_checks(engine().start(ctx.org, ctx.body, ctx.principal)), 201


def get_canary(ctx: Context, canary_id: str):
    return with_checks(engine().store.get(ctx.org, canary_id))


def check_override(ctx: Context, override_reason: str | None) -> None:
    if override_reason is not None and not ctx.principal.has_role("admin"):
        raise Forbidden("only admins may pass a freeze window with override_reason")


def promote_canary(ctx: Context, canary_id: str):
    reason = ctx.body.override_reason if ctx.body is not None else None
    check_override(ctx, reason)
    return with_checks(engine().promote(ctx.org, canary_id, ctx.principal, reason))


def abort_canary(ctx: Context, canary_id: str):
    return with_checks(engine().abort(ctx.org, canary_id, ctx.principal))


def sweep(ctx: Context):
    return {"checked": engine().sweep()}


def check_canary(ctx: Context, canary_id: str):
    body: CheckRequest = ctx.body
    record = engine().check(body.organisation.lower(), canary_id, body.check)
    return {"checked": record is not None, "status": record["status"] if record else None}


API = Api(
    "deployq canary",
    SETTINGS,
    [
        Route(
            "/v1/canaries",
            "GET",
            list_canaries,
            query=C + "ListQuery",
            response=[C + "Canary"],
            summary="list canaries, newest first (each with its latest check)",
        ),
        Route(
            "/v1/canaries",
            "POST",
            start_canary,
            role="deployer",
            body=C + "CanaryCreate",
            response=C + "Canary",
            status=201,
            summary="start a rollout of a Cloud Run revision",
        ),
        Route(
            "/v1/canaries:sweep",
            "POST",
            sweep,
            auth="internal",
            response="shared.schemas.responses:CanarySweep",
            summary="Cloud Scheduler: run every overdue check",
        ),
        Route(
            "/v1/canaries/<canary_id>",
            "GET",
            get_canary,
            response=C + "Canary",
            summary="one canary with every check",
        ),
        Route(
            "/v1/canaries/<canary_id>/promote",
            "POST",
            promote_canary,
            role="deployer",
            body=C + "PromoteBody",
            body_optional=True,
            response=C + "Canary",
            summary="100% to the canary revision now",
        ),
        Route(
            "/v1/canaries/<canary_id>/abort",
            "POST",
            abort_canary,
            role="deployer",
            response=C + "Canary",
            summary="100% back to the stable revision now",
        ),
        Route(
            "/v1/canaries/<canary_id>:check",
            "POST",
            check_canary,
            auth="internal",
            body=C + "CheckRequest",
            response="shared.schemas.responses:CanaryCheckOutcome",
            summary="run check number `check` if it is due (check tasks sent before checks "
            "became worker jobs)",
        ),
    ],
)


@functions_framework.http
def canary(request: flask.Request):
    """HTTP entry point of canary rollouts (also served under /[prefix]canary/...)."""
    prefixed = PATH_PREFIX.match(request.path)
    if prefixed:
        request = flask.Request(dict(request.environ, PATH_INFO=prefixed.group(1)))
    return API.handle(request)
