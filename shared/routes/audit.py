"""The audit log: pages of entries, the CSV export, and the events sweep that feeds it."""

from __future__ import annotations

import flask

from shared import clock
from shared.deployments.services import services_for
from shared.errors import NotFound, ServiceUnavailable
from shared.governance.audit import csv_lines
from shared.routes import M, governed
from shared.web import Context, Raw


def list_audit(ctx: Context):
    q = ctx.query
    audit = services_for(ctx.settings).audit
    entries, token = audit.list(ctx.org, q.filters(), q.from_, q.to, q.limit, q.page_token)
    return entries, 200, ({"X-Next-Page-Token": token} if token else {})


def get_audit(ctx: Context, entry_id: str):
    entry = services_for(ctx.settings).audit.get(ctx.org, entry_id[:200])
    if entry is None:
        raise NotFound(f"audit entry {entry_id[:200]} not found")
    return entry


def export_audit(ctx: Context):
    q = ctx.query
    entries = services_for(ctx.settings).audit.iterate(ctx.org, q.filters(), q.from_, q.to)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%SZ")
    return flask.Response(
        flask.stream_with_context(csv_lines(entries)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-log-{ctx.org}-{stamp}.csv"'},
    )


def sweep_events(ctx: Context):
    published, failed = services_for(ctx.settings).events.sweep()
    if failed and not published:
        raise ServiceUnavailable(
            f"Pub/Sub did not accept {failed} unpublished events; they stay for the next sweep"
        )
    return {"published": published, "failed": failed}


ROUTES = [
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
        "/v1/audit-logs/<entry_id>",
        "GET",
        get_audit,
        response=M + "AuditEntry",
        summary="one audit entry",
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
