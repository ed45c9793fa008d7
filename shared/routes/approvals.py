"""The approval inbox; approving and rejecting deployments that wait for approval."""

from __future__ import annotations

from shared.deployments.services import services_for
from shared.governance.approvals import APPROVED, REJECTED
from shared.models.deployment import public
from shared.routes import D, M, governed
from shared.web import Context


def approve(ctx: Context, deployment_id: str):
    comment = ctx.body.comment if ctx.body is not None else None
    approvals = services_for(ctx.settings).approvals
    record = approvals.decide(ctx.org, deployment_id, ctx.principal, APPROVED, comment, ctx.meta)
    return public(record)


def list_approvals(ctx: Context):
    q = ctx.query
    items, token = services_for(ctx.settings).inbox.list(
        ctx.org, ctx.principal, q.status, q.limit, q.page_token
    )
    return items, 200, ({"X-Next-Page-Token": token} if token else {})


def reject(ctx: Context, deployment_id: str):
    approvals = services_for(ctx.settings).approvals
    record = approvals.decide(
        ctx.org, deployment_id, ctx.principal, REJECTED, ctx.body.comment, ctx.meta
    )
    return public(record)


ROUTES = [
    governed(
        "/v1/approvals",
        "GET",
        list_approvals,
        query=M + "ApprovalQuery",
        response=[M + "ApprovalItem"],
        summary="the approval inbox: deployments and package deployments, newest first",
    ),
    governed(
        "/v1/deployments/<deployment_id>/approve",
        "POST",
        approve,
        body=M + "ApproveBody",
        body_optional=True,
        response=D + "Deployment",
        summary="approve a deployment waiting for approval (approver role or listed)",
    ),
    governed(
        "/v1/deployments/<deployment_id>/reject",
        "POST",
        reject,
        body=M + "RejectBody",
        response=D + "Deployment",
        summary="reject a deployment waiting for approval (it is skipped)",
    ),
]
