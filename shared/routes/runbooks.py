"""Runbooks: CRUD and text search."""

from __future__ import annotations

from shared.deployments.services import services_for
from shared.routes import M, governed
from shared.web import Context


def list_runbooks(ctx: Context):
    q = ctx.query
    return services_for(ctx.settings).runbooks.list(ctx.org, q.q, q.service, q.environment, q.tag)


def create_runbook(ctx: Context):
    changes = services_for(ctx.settings).changes
    return changes.create_runbook(ctx.org, ctx.body, ctx.principal, ctx.meta), 201


def get_runbook(ctx: Context, runbook_id: str):
    return services_for(ctx.settings).runbooks.get(ctx.org, runbook_id)


def replace_runbook(ctx: Context, runbook_id: str):
    changes = services_for(ctx.settings).changes
    return changes.replace_runbook(ctx.org, runbook_id, ctx.body, ctx.principal, ctx.meta)


def delete_runbook(ctx: Context, runbook_id: str):
    services_for(ctx.settings).changes.delete_runbook(ctx.org, runbook_id, ctx.principal, ctx.meta)
    return None, 204


ROUTES = [
    governed(
        "/v1/runbooks",
        "GET",
        list_runbooks,
        query=M + "RunbookQuery",
        response=[M + "Runbook"],
        summary="runbooks; q matches every word in title or content",
    ),
    governed(
        "/v1/runbooks",
        "POST",
        create_runbook,
        role="deployer",
        body=M + "RunbookBody",
        response=M + "Runbook",
        status=201,
        summary="create a runbook",
    ),
    governed(
        "/v1/runbooks/<runbook_id>",
        "GET",
        get_runbook,
        response=M + "Runbook",
        summary="one runbook",
    ),
    governed(
        "/v1/runbooks/<runbook_id>",
        "PUT",
        replace_runbook,
        role="deployer",
        body=M + "RunbookBody",
        response=M + "Runbook",
        summary="replace a runbook",
    ),
    governed(
        "/v1/runbooks/<runbook_id>",
        "DELETE",
        delete_runbook,
        role="deployer",
        status=204,
        summary="delete a runbook",
    ),
]
