"""DORA metrics: the four keys, per day, per service and per environment."""

from __future__ import annotations

from shared.deployments.services import services_for
from shared.routes import M, governed
from shared.web import Context


def dora_metrics(ctx: Context):
    return services_for(ctx.settings).dora.metrics(ctx.org, ctx.query)


def dora_trends(ctx: Context):
    return services_for(ctx.settings).dora.trends(ctx.org, ctx.query)


def dora_by_service(ctx: Context):
    return services_for(ctx.settings).dora.grouped(ctx.org, ctx.query, "name")


def dora_by_environment(ctx: Context):
    return services_for(ctx.settings).dora.grouped(ctx.org, ctx.query, "environment")


ROUTES = [
    governed(
        "/v1/metrics/dora",
        "GET",
        dora_metrics,
        query=M + "DoraQuery",
        response=M + "DoraMetrics",
        summary="the four DORA keys over the last `days` days",
    ),
    governed(
        "/v1/metrics/dora/trends",
        "GET",
        dora_trends,
        query=M + "DoraQuery",
        response=M + "DoraTrends",
        summary="DORA figures per day",
    ),
    governed(
        "/v1/metrics/dora/by-service",
        "GET",
        dora_by_service,
        query=M + "DoraQuery",
        response=[M + "DoraGroup"],
        summary="DORA figures per service (name)",
    ),
    governed(
        "/v1/metrics/dora/by-environment",
        "GET",
        dora_by_environment,
        query=M + "DoraQuery",
        response=[M + "DoraGroup"],
        summary="DORA figures per environment",
    ),
]
