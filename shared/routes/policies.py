"""Environment policies (approvals, freeze windows) and notification settings."""

from __future__ import annotations

from shared.deployments.services import services_for
from shared.routes import M, governed
from shared.web import Context


def get_policy(ctx: Context, environment: str):
    return services_for(ctx.settings).policies.get(ctx.org, environment)


def put_policy(ctx: Context, environment: str):
    policies = services_for(ctx.settings).policies
    policies.put(ctx.org, environment, ctx.body, ctx.principal, ctx.meta)
    return policies.get(ctx.org, environment)


def get_notifications(ctx: Context):
    return services_for(ctx.settings).notifications.get(ctx.org)


def put_notifications(ctx: Context):
    settings = ctx.body.model_dump(mode="json")
    changes = services_for(ctx.settings).changes
    return changes.put_notifications(ctx.org, settings, ctx.principal, ctx.meta)


ROUTES = [
    governed(
        "/v1/policies/<environment>",
        "GET",
        get_policy,
        response=M + "Policy",
        summary="an environment's approval policy and freeze windows",
    ),
    governed(
        "/v1/policies/<environment>",
        "PUT",
        put_policy,
        role="admin",
        body=M + "PolicyBody",
        response=M + "Policy",
        summary="replace an environment's policy",
    ),
    governed(
        "/v1/settings/notifications",
        "GET",
        get_notifications,
        role="admin",
        response=M + "NotificationSettings",
        summary="where failures and rollbacks are announced",
    ),
    governed(
        "/v1/settings/notifications",
        "PUT",
        put_notifications,
        role="admin",
        body=M + "NotificationSettings",
        response=M + "NotificationSettings",
        summary="set the Slack-compatible webhook for failures and rollbacks",
    ),
]
