"""`deployq dora`, `deployq audit ...`, `deployq policies ...`, `deployq runbooks ...`."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands import csv_list, drop_none, group, leaf, read_json_file, read_text
from cli.runtime import Runtime


def dora(rt: Runtime) -> int:
    a = rt.args
    data = rt.client("deployments").call(
        "GET",
        "/v1/metrics/dora",
        params={"days": a.days, "environment": a.environment, "name": a.name},
    )

    def render(d: dict[str, Any]) -> None:
        freq = d.get("deployment_frequency") or {}
        lead = d.get("lead_time") or {}
        cfr = d.get("change_failure_rate") or {}
        ttr = d.get("time_to_restore") or {}
        rate = cfr.get("rate")
        rows = [
            {
                "metric": "deployment frequency",
                "value": f"{freq.get('deployments', 0)} deployed ({freq.get('per_day', 0)}/day)",
                "bucket": freq.get("bucket"),
            },
            {
                "metric": "lead time for changes",
                "value": duration(lead.get("median_seconds")),
                "bucket": lead.get("bucket"),
            },
            {
                "metric": "change failure rate",
                "value": None
                if rate is None
                else f"{rate * 100:.1f}% ({cfr.get('failed', 0)} failed + "
                f"{cfr.get('rolled_back', 0)} rolled back / {cfr.get('finished', 0)} finished)",
                "bucket": cfr.get("bucket"),
            },
            {
                "metric": "time to restore",
                "value": duration(ttr.get("median_seconds")),
                "bucket": ttr.get("bucket"),
            },
        ]
        scope = ", ".join(f"{k}={d.get(k)}" for k in ("environment", "name") if d.get(k))
        rt.say(f"DORA metrics, last {d.get('days')} days" + (f" ({scope})" if scope else ""))
        rt.table(rows, ["metric", ("value", "MEDIAN / VALUE"), "bucket"])

    rt.emit(data, render)
    return 0


def duration(seconds: float | None) -> str | None:
    """A median duration as people read it: `2h 15m`, `3d 4h`, `45s`."""
    if seconds is None:
        return None
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if hours < 1:
        return f"{minutes:.0f}m"
    if days < 1:
        return f"{int(hours)}h {int(minutes % 60)}m"
    return f"{int(days)}d {int(hours % 24)}h"


AUDIT_COLUMNS = [
    "time",
    "actor",
    "action",
    ("resource_type", "TYPE"),
    ("resource_id", "RESOURCE"),
    "ip",
]


def audit_params(a: argparse.Namespace) -> dict[str, Any]:
    return {
        "actor": a.actor,
        "action": a.action,
        "resource_type": a.resource_type,
        "resource_id": a.resource_id,
        "from": a.since,
        "to": a.until,
    }


def audit_list(rt: Runtime) -> int:
    a = rt.args
    params = {**audit_params(a), "limit": a.limit, "page_token": a.page_token}
    items, next_token = [], None
    while True:
        response = rt.client("deployments").request("GET", "/v1/audit-logs", params=params)
        items.extend(response.json())
        next_token = response.headers.get("X-Next-Page-Token")
        if not (a.all and next_token):
            break
        params["page_token"] = next_token
    rt.emit(items, lambda rows: rt.table(rows, AUDIT_COLUMNS))
    if next_token and not a.all:
        rt.progress(f"more entries: --page-token {next_token} (or --all)")
    return 0


def audit_export(rt: Runtime) -> int:
    response = rt.client("deployments").request(
        "GET",
        "/v1/audit-logs/export.csv",
        params=audit_params(rt.args),
        headers={"Accept": "text/csv"},
        stream=True,
    )
    if rt.args.output and rt.args.output != "-":
        size = 0
        with open(rt.args.output, "wb") as handle:
            for chunk in response.iter_content(65536):
                handle.write(chunk)
                size += len(chunk)
        rt.progress(f"wrote {size} bytes to {rt.args.output}")
    else:
        for chunk in response.iter_content(65536, decode_unicode=True):
            rt.stdout.write(chunk if isinstance(chunk, str) else chunk.decode())
    return 0


def policy_show(rt: Runtime) -> int:
    data = rt.client("deployments").call("GET", f"/v1/policies/{rt.args.environment}")
    rt.emit(data, rt.record)
    return 0


def policy_set(rt: Runtime) -> int:
    a = rt.args
    body = read_json_file(a.file) if a.file else {}
    flags = drop_none(
        {
            "requires_approval": a.requires_approval,
            "min_approvals": a.min_approvals,
            "approver_role": a.approver_role,
            "approvers": a.approvers,
            "prevent_self_approval": a.prevent_self_approval,
        }
    )
    body.update(flags)
    data = rt.client("deployments").call("PUT", f"/v1/policies/{a.environment}", json=body)
    rt.emit(data, rt.record)
    return 0


RUNBOOK_COLUMNS = ["id", "title", "service", ("environment", "ENV"), "tags", "updated_at"]


def runbook_body(a: argparse.Namespace) -> dict[str, Any]:
    content = read_text(a.content_file) if a.content_file else a.content
    return drop_none(
        {
            "title": a.title,
            "content": content,
            "service": a.service,
            "environment": a.environment,
            "tags": a.tags,
        }
    )


def runbooks_list(rt: Runtime) -> int:
    a = rt.args
    data = rt.client("deployments").call(
        "GET",
        "/v1/runbooks",
        params={"q": a.q, "service": a.service, "environment": a.environment, "tag": a.tag},
    )
    rt.emit(data, lambda rows: rt.table(rows, RUNBOOK_COLUMNS))
    return 0


def runbook_show(rt: Runtime) -> int:
    data = rt.client("deployments").call("GET", f"/v1/runbooks/{rt.args.runbook_id}")

    def render(d: dict[str, Any]) -> None:
        rt.record(d, [k for k in d if k != "content"])
        rt.say("")
        rt.say(d.get("content") or "")

    rt.emit(data, render)
    return 0


def runbook_create(rt: Runtime) -> int:
    data = rt.client("deployments").call("POST", "/v1/runbooks", json=runbook_body(rt.args))
    rt.emit(data, rt.record)
    return 0


def runbook_update(rt: Runtime) -> int:
    data = rt.client("deployments").call(
        "PUT", f"/v1/runbooks/{rt.args.runbook_id}", json=runbook_body(rt.args)
    )
    rt.emit(data, rt.record)
    return 0


def runbook_delete(rt: Runtime) -> int:
    rt.client("deployments").call("DELETE", f"/v1/runbooks/{rt.args.runbook_id}")
    rt.emit({"deleted": rt.args.runbook_id}, lambda d: rt.say(f"deleted runbook {d['deleted']}"))
    return 0


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = leaf(
        commands,
        common,
        "dora",
        dora,
        "DORA metrics: deployment frequency, lead time, change failure rate, time to restore",
    )
    p.add_argument("--days", type=int, default=None, help="window in days (1..365, default 30)")
    p.add_argument("--environment")
    p.add_argument("--name")

    sub = group(commands, "audit", "the audit log")
    for name, func, text in (
        ("list", audit_list, "audit entries, newest first"),
        ("export", audit_export, "every matching entry as CSV"),
    ):
        p = leaf(sub, common, name, func, text)
        p.add_argument("--actor")
        p.add_argument("--action", help="event type, e.g. deployq.deployment.status_changed")
        p.add_argument(
            "--resource-type",
            choices=(
                "deployment",
                "policy",
                "package",
                "package_deployment",
                "job",
                "canary",
                "runbook",
                "settings",
                "organisation",
            ),
        )
        p.add_argument("--resource-id")
        p.add_argument("--from", dest="since", metavar="TIME", help="RFC 3339, inclusive")
        p.add_argument("--to", dest="until", metavar="TIME", help="RFC 3339, exclusive")
        if name == "list":
            p.add_argument("--limit", type=int)
            p.add_argument("--page-token")
            p.add_argument("--all", action="store_true", help="follow every page")
        else:
            p.add_argument("-o", "--output", help="file to write (default stdout)")

    sub = group(commands, "policies", "approval policies and freeze windows per environment")
    p = leaf(sub, common, "show", policy_show, "the policy of an environment")
    p.add_argument("environment")
    p = leaf(
        sub,
        common,
        "set",
        policy_set,
        "replace the policy of an environment (admin): a JSON file and/or flags",
    )
    p.add_argument("environment")
    p.add_argument("--file", help="policy JSON (freeze_windows etc.), - for stdin")
    p.add_argument("--requires-approval", type=_bool, metavar="true|false")
    p.add_argument("--min-approvals", type=int)
    p.add_argument("--approver-role", choices=("viewer", "deployer", "approver", "admin"))
    p.add_argument("--approvers", type=csv_list, help="comma list of emails / GitHub logins")
    p.add_argument("--prevent-self-approval", type=_bool, metavar="true|false")

    sub = group(commands, "runbooks", "runbooks linked to failed deployments")
    p = leaf(sub, common, "list", runbooks_list, "search runbooks")
    p.add_argument("--q", help="words that must all appear in title or content")
    p.add_argument("--service")
    p.add_argument("--environment")
    p.add_argument("--tag")
    p = leaf(sub, common, "show", runbook_show, "one runbook")
    p.add_argument("runbook_id")
    for name, func, text in (
        ("create", runbook_create, "write a runbook"),
        ("update", runbook_update, "replace a runbook"),
    ):
        p = leaf(sub, common, name, func, text)
        if name == "update":
            p.add_argument("runbook_id")
        p.add_argument("--title", required=True)
        content = p.add_mutually_exclusive_group(required=True)
        content.add_argument("--content", help="markdown text")
        content.add_argument("--content-file", help="markdown file, - for stdin")
        p.add_argument("--service", help="deployment name it applies to")
        p.add_argument("--environment")
        p.add_argument("--tags", type=csv_list, help="comma list")
    p = leaf(sub, common, "delete", runbook_delete, "delete a runbook")
    p.add_argument("runbook_id")
