"""Governance routes of the deployments function: approvals, policies, audit log, DORA,
runbooks, notification settings and the events sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import flask

from shared import clock
from shared.errors import ServiceUnavailable
from shared.governance import approvals, dora
from shared.governance.audit import csv_lines
from shared.governance.service import Governance
from shared.models.deployment import Deployment, public
from shared.store.dora import outcomes_and_restores
from shared.web import Context, Raw, Route

if TYPE_CHECKING:
    from shared.models.governance import AuditQuery, DoraQuery, RunbookQuery

TAGS = ("governance",)
# The models load when a governance route is first served: most requests never need them.
M = "shared.models.governance:"


def governed(*args: Any, **fields: Any) -> Route:
    """A route of this module, tagged `governance` in the OpenAPI document."""
    return Route(*args, tags=TAGS, **fields)


def routes(gov: Callable[[], Governance]) -> list[Route]:
    """The routes, bound to a lazily built `Governance`."""

    def meta(ctx: Context) -> dict[str, Any]:
        return {"ip": ctx.ip, "user_agent": ctx.user_agent}

    # -- approvals ------------------------------------------------------------------

    def approve(ctx: Context, deployment_id: str):
        comment = ctx.body.comment if ctx.body is not None else None
        g = gov()
        record = approvals.decide(
            g.deployments,
            g.policies,
            ctx.org,
            deployment_id,
            ctx.principal,
            approvals.APPROVED,
            comment,
            meta(ctx),
        )
        return public(record)

    def reject(ctx: Context, deployment_id: str):
        g = gov()
        record = approvals.decide(
            g.deployments,
            g.policies,
            ctx.org,
            deployment_id,
            ctx.principal,
            approvals.REJECTED,
            ctx.body.comment,
            meta(ctx),
        )
        return public(record)

    # -- policies -------------------------------------------------------------------

    def get_policy(ctx: Context, environment: str):
        return gov().policies.get(ctx.org, environment)

    def put_policy(ctx: Context, environment: str):
        gov().policies.put(ctx.org, environment, ctx.body, ctx.principal, meta(ctx))
        return gov().policies.get(ctx.org, environment)

    # -- audit log ------------------------------------------------------------------

    def list_audit(ctx: Context):
        q: AuditQuery = ctx.query
        entries, token = gov().audit.list(
            ctx.org, q.filters(), q.from_, q.to, q.limit, q.page_token
        )
        return entries, 200, ({"X-Next-Page-Token": token} if token else {})

    def export_audit(ctx: Context):
        q: AuditQuery = ctx.query
        entries = gov().audit.iterate(ctx.org, q.filters(), q.from_, q.to)
        stamp = clock.utcnow().strftime("%Y%m%dT%H%M%SZ")
        return flask.Response(
            flask.stream_with_context(csv_lines(entries)),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="audit-log-{ctx.org}-{stamp}.csv"'
            },
        )

    # -- DORA -----------------------------------------------------------------------

    def _docs(ctx: Context, scope_env: bool, scope_name: bool):
        q: DoraQuery = ctx.query
        env_given, name_given = q.environment is not None, q.name is not None
        by_env, by_name = scope_env or env_given, scope_name or name_given
        scope = {
            (True, True): "environment_name",
            (True, False): "environment",
            (False, True): "name",
            (False, False): "all",
        }[(by_env, by_name)]
        now = clock.utcnow()
        docs = gov().dora.days(
            ctx.org,
            scope,
            now - timedelta(days=q.days),
            q.environment or None if env_given else None,
            q.name or None if name_given else None,
        )
        if env_given:
            docs = [d for d in docs if d.get("environment") == (q.environment or None)]
        if name_given:
            docs = [d for d in docs if d.get("name") == (q.name or None)]
        return q, now, docs

    def dora_metrics(ctx: Context):
        q, now, docs = _docs(ctx, False, False)
        outcomes, restores = outcomes_and_restores(docs)
        return dora.metrics(outcomes, restores, now, q.days, q.environment, q.name)

    def dora_trends(ctx: Context):
        q, now, docs = _docs(ctx, False, False)
        outcomes, restores = outcomes_and_restores(docs)
        return {
            "days": q.days,
            "environment": q.environment,
            "name": q.name,
            "trends": dora.trends(outcomes, restores, now, q.days),
        }

    def _grouped(ctx: Context, field: str):
        q, now, docs = _docs(ctx, field == "environment", field == "name")
        groups: dict[Any, list] = {}
        for doc in docs:
            groups.setdefault(doc.get(field), []).append(doc)
        result = []
        for key, group in groups.items():
            outcomes, restores = outcomes_and_restores(group)
            figures = dora.metrics(outcomes, restores, now, q.days, q.environment, q.name)
            if figures["change_failure_rate"]["finished"] == 0:
                continue
            if field == "name":
                figures["name"] = key
            else:
                figures["environment"] = key
            result.append({"key": key, **figures})
        return sorted(result, key=lambda r: (r["key"] is None, r["key"] or ""))

    def dora_by_service(ctx: Context):
        return _grouped(ctx, "name")

    def dora_by_environment(ctx: Context):
        return _grouped(ctx, "environment")

    # -- runbooks -------------------------------------------------------------------

    def list_runbooks(ctx: Context):
        q: RunbookQuery = ctx.query
        return gov().runbooks.list(ctx.org, q.q, q.service, q.environment, q.tag)

    def create_runbook(ctx: Context):
        return gov().runbooks.create(ctx.org, ctx.body, ctx.principal), 201

    def get_runbook(ctx: Context, runbook_id: str):
        return gov().runbooks.get(ctx.org, runbook_id)

    def replace_runbook(ctx: Context, runbook_id: str):
        return gov().runbooks.replace(ctx.org, runbook_id, ctx.body)

    def delete_runbook(ctx: Context, runbook_id: str):
        gov().runbooks.delete(ctx.org, runbook_id)
        return None, 204

    # -- notifications and the sweep ------------------------------------------------

    def get_notifications(ctx: Context):
        return gov().notifications.get(ctx.org)

    def put_notifications(ctx: Context):
        return gov().notifications.put(ctx.org, ctx.body.model_dump(mode="json"))

    def sweep_events(ctx: Context):
        published, failed = gov().outbox.sweep()
        if failed and not published:
            raise ServiceUnavailable(
                f"Pub/Sub did not accept {failed} unpublished events; they stay for the next sweep"
            )
        return {"published": published, "failed": failed}

    deployment_path = "/v1/deployments/<deployment_id>"
    return [
        governed(
            f"{deployment_path}/approve",
            "POST",
            approve,
            body=M + "ApproveBody",
            body_optional=True,
            response=Deployment,
            summary="approve a deployment waiting for approval (approver role or listed)",
        ),
        governed(
            f"{deployment_path}/reject",
            "POST",
            reject,
            body=M + "RejectBody",
            response=Deployment,
            summary="reject a deployment waiting for approval (it is skipped)",
        ),
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
            "/v1/audit-logs",
            "GET",
            list_audit,
            query=M + "AuditQuery",
            response=[M + "AuditEntry"],
            summary="audit log entries, newest first",
        ),
        governed(
            "/v1/audit-logs/export.csv",
            "GET",
            export_audit,
            query=M + "AuditQuery",
            response=Raw(("text/csv",)),
            summary="every matching audit entry as CSV (streamed)",
        ),
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
        governed(
            "/v1/events:sweep",
            "POST",
            sweep_events,
            auth="internal",
            response=M + "SweepResult",
            summary="publish every event still unpublished (Cloud Scheduler)",
        ),
    ]
