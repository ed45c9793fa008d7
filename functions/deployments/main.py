"""The deployment queue (`deployments`): CRUD, status machine with auto-skip, rollback, claim."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import functions_framework

from shared import logs
from shared.config import load_settings_or_exit
from shared.deployments.queue import DeploymentQueue
from shared.deployments.rules import request_hash
from shared.deployments.services import services_for
from shared.errors import BadRequest, Forbidden
from shared.models.deployment import public
from shared.models.runbook import FAILURE_STATUSES
from shared.routes import approvals, audit, discovery, dora, organisations, policies, runbooks
from shared.web import Api, Context, Route

if TYPE_CHECKING:
    from shared.schemas.deployment import DeploymentPatch, RollbackQuery

# The request and response shapes load when a route first needs them.
D = "shared.schemas.deployment:"
SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)


def queue() -> DeploymentQueue:
    """The queue with approvals, freeze windows and events composed in."""
    return services_for(SETTINGS).deployments


def with_runbooks(ctx: Context, record: dict) -> dict:
    """A failed or rolled-back deployment lists the runbooks of its service/environment."""
    view = public(record)
    if record.get("status") in FAILURE_STATUSES:
        view["runbooks"] = services_for(SETTINGS).runbooks.for_deployment(ctx.org, record)
    return view


def list_deployments(ctx: Context):
    q = ctx.query
    records, next_token = queue().list(ctx.org, q.filters(), q.limit, q.page_token)
    headers = {"X-Next-Page-Token": next_token} if next_token else {}
    return [public(r) for r in records], 200, headers


def create_deployment(ctx: Context):
    record, replayed = queue().create(
        ctx.org,
        ctx.body,
        ctx.principal,
        idempotency_key=ctx.idempotency_key,
        body_hash=request_hash(ctx.json) if ctx.idempotency_key else None,
        meta=ctx.meta,
    )
    return public(record), 201, {"Idempotent-Replayed": "true"} if replayed else {}


def get_deployment(ctx: Context, deployment_id: str):
    return with_runbooks(ctx, queue().get(ctx.org, deployment_id))


def update_deployment(ctx: Context, deployment_id: str):
    patch: DeploymentPatch = ctx.body
    if not patch.model_fields_set:
        raise BadRequest(
            "nothing to change: give status, notes or deployment_uri", code="empty_body"
        )
    if patch.override_reason is not None and not ctx.principal.has_role("admin"):
        raise Forbidden("only admins may pass a freeze window with override_reason")
    record = queue().update(ctx.org, deployment_id, patch, ctx.principal, ctx.meta)
    return with_runbooks(ctx, record)


def rollback_taxonomy(ctx: Context):
    q: RollbackQuery = ctx.query
    record = services_for(SETTINGS).rollbacks.rollback_taxonomy(
        ctx.org, q.taxonomy(), q.target_version, ctx.principal, ctx.meta
    )
    return public(record), 201


def rollback_deployment(ctx: Context, deployment_id: str):
    record = services_for(SETTINGS).rollbacks.rollback_deployment(
        ctx.org, deployment_id, ctx.query.target_version, ctx.principal, ctx.meta
    )
    return public(record), 201


def claim(ctx: Context):
    taxonomy = ctx.body.model_dump(mode="json")
    return public(queue().claim(ctx.org, taxonomy, ctx.principal, ctx.meta))


API = Api(
    "deployq deployments",
    SETTINGS,
    [
        Route(
            "/v1/deployments",
            "GET",
            list_deployments,
            query=D + "ListQuery",
            response=[D + "Deployment"],
            summary="list deployments, newest first",
        ),
        Route(
            "/v1/deployments",
            "POST",
            create_deployment,
            role="deployer",
            body=D + "DeploymentCreate",
            response=D + "Deployment",
            status=201,
            summary="queue a deployment (Idempotency-Key honoured)",
        ),
        Route(
            "/v1/deployments/rollback",
            "POST",
            rollback_taxonomy,
            role="deployer",
            query=D + "RollbackQuery",
            response=D + "Deployment",
            status=201,
            summary="roll a taxonomy back to its previous (or a given) deployed version",
        ),
        Route(
            "/v1/deployments/claim",
            "POST",
            claim,
            role="deployer",
            body=D + "TaxonomyBody",
            response=D + "Deployment",
            summary="take the newest scheduled deployment of a taxonomy",
        ),
        Route(
            "/v1/deployments/<deployment_id>",
            "GET",
            get_deployment,
            response=D + "Deployment",
            summary="one deployment",
        ),
        Route(
            "/v1/deployments/<deployment_id>",
            "PATCH",
            update_deployment,
            role="deployer",
            body=D + "DeploymentPatch",
            response=D + "Deployment",
            summary="change status (auto-skips older scheduled), notes or deployment_uri",
        ),
        Route(
            "/v1/deployments/<deployment_id>/rollback",
            "POST",
            rollback_deployment,
            role="deployer",
            query=D + "TargetVersionQuery",
            response=D + "Deployment",
            status=201,
            summary="roll back from this deployment",
        ),
        *approvals.ROUTES,
        *policies.ROUTES,
        *audit.ROUTES,
        *dora.ROUTES,
        *runbooks.ROUTES,
        *organisations.routes(SETTINGS),
        *discovery.routes(SETTINGS, os.environ.get("K_SERVICE")),
    ],
)


@functions_framework.http
def deployments(request):
    """HTTP entry point of the deployment queue."""
    return API.handle(request)
