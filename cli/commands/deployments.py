"""`deployq deployments ...`: the deployment queue (list, show, create, update, rollback, claim)."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from cli.commands import drop_none, group, leaf, list_pages, missing_flags
from cli.errors import UsageError
from cli.runtime import Runtime

PROVIDERS = ("gcp", "aws", "azure")
TYPES = ("k8s", "terraform", "data_pipeline")
STATUSES = ("scheduled", "in_progress", "deployed", "skipped", "failed", "rolled_back")
TRIGGERS = ("auto", "manual", "rollback")
COLUMNS = [
    "id",
    "name",
    "version",
    ("environment", "ENV"),
    "status",
    "trigger",
    "region",
    "cell",
    ("created_at", "CREATED"),
]
FIELDS = [
    "id",
    "name",
    "version",
    "status",
    "trigger",
    "auto",
    "environment",
    "provider",
    "cloud_account_id",
    "region",
    "cell",
    "type",
    "commit_sha",
    "commit_timestamp",
    "pipeline_extra_params",
    "description",
    "notes",
    "build_uri",
    "deployment_uri",
    "resource",
    "source_deployment_id",
    "rollback_from_deployment_id",
    "approval_status",
    "created_by_repo",
    "created_by_workflow",
    "created_by_actor",
    "created_at",
    "updated_at",
    "deployed_at",
]


def show_deployment(rt: Runtime, item: dict[str, Any]) -> None:
    def render(data: dict[str, Any]) -> None:
        fields = [f for f in FIELDS if f in data] + [
            f
            for f in data
            if f not in FIELDS and f not in ("approvals", "runbooks", "organisation")
        ]
        rt.record(data, fields)
        for approval in data.get("approvals") or []:
            rt.say(
                f"approval  {approval.get('decision')} by {approval.get('actor')} "
                f"at {approval.get('time')}: {approval.get('comment') or ''}"
            )
        for runbook in data.get("runbooks") or []:
            rt.say(f"runbook   {runbook.get('id')}  {runbook.get('title')}")

    rt.emit(item, render)


def taxonomy_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--name", required=required, help="component name")
    parser.add_argument("--provider", choices=PROVIDERS, required=required)
    parser.add_argument("--cloud-account-id", help="cloud account / project ('' for none)")
    parser.add_argument("--region", help="region ('' for none)")
    parser.add_argument("--cell", help="cell ('' for none)")


def list_deployments(rt: Runtime) -> int:
    a = rt.args
    params = {
        "status": a.status,
        "name": a.name,
        "environment": a.environment,
        "provider": a.provider,
        "cloud_account_id": a.cloud_account_id,
        "region": a.region,
        "cell": a.cell,
        "trigger": a.trigger,
        "limit": a.limit,
        "page_token": a.page_token,
    }
    return list_pages(
        rt, "/v1/deployments", params, lambda rows: rt.table(rows, COLUMNS), "deployments"
    )


def show(rt: Runtime) -> int:
    show_deployment(
        rt, rt.client("deployments").call("GET", f"/v1/deployments/{rt.args.deployment_id}")
    )
    return 0


def create(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {
            "name": a.name,
            "version": a.version,
            "provider": a.provider,
            "type": a.type,
            "environment": a.environment,
            "cloud_account_id": a.cloud_account_id,
            "region": a.region,
            "cell": a.cell,
            "commit_sha": a.commit_sha,
            "commit_timestamp": a.commit_timestamp,
            "pipeline_extra_params": a.extra_params,
            "description": a.description,
            "notes": a.notes,
            "build_uri": a.build_uri,
            "deployment_uri": a.deployment_uri,
            "resource": a.resource,
        }
    )
    body["auto"] = not a.manual
    key = a.idempotency_key or str(uuid.uuid4())  # makes the automatic retry safe
    item = rt.client("deployments").call(
        "POST", "/v1/deployments", json=body, headers={"Idempotency-Key": key}
    )
    show_deployment(rt, item)
    return 0


def update(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {
            "status": a.status,
            "notes": a.notes,
            "deployment_uri": a.deployment_uri,
            "override_reason": a.override_reason,
        }
    )
    if not body:
        raise UsageError("nothing to change: give --status, --notes or --deployment-uri")
    item = rt.client("deployments").call("PATCH", f"/v1/deployments/{a.deployment_id}", json=body)
    show_deployment(rt, item)
    return 0


def rollback(rt: Runtime) -> int:
    a = rt.args
    client = rt.client("deployments")
    if a.deployment_id:
        item = client.call(
            "POST",
            f"/v1/deployments/{a.deployment_id}/rollback",
            params={"target_version": a.target_version},
        )
    else:
        missing = missing_flags(
            {
                "--name": a.name,
                "--provider": a.provider,
                "--cloud-account-id": a.cloud_account_id,
                "--region": a.region,
            },
            empty_allowed=True,
        )
        if missing:
            raise UsageError(
                "rollback needs a deployment id, or the taxonomy: missing "
                + ", ".join(missing)
                + " ('' stands for none)"
            )
        item = client.call(
            "POST",
            "/v1/deployments/rollback",
            params={
                "name": a.name,
                "provider": a.provider,
                "cloud_account_id": a.cloud_account_id,
                "region": a.region,
                "cell": a.cell,
                "target_version": a.target_version,
            },
        )
    show_deployment(rt, item)
    return 0


def claim(rt: Runtime) -> int:
    a = rt.args
    body = {"name": a.name, "provider": a.provider}
    for field in ("cloud_account_id", "region", "cell"):
        value = getattr(a, field)
        if value:  # '' and absent both mean null
            body[field] = value
    item = rt.client("deployments").call("POST", "/v1/deployments/claim", json=body)
    show_deployment(rt, item)
    return 0


def approve(rt: Runtime) -> int:
    body = drop_none({"comment": rt.args.comment})
    item = rt.client("deployments").call(
        "POST", f"/v1/deployments/{rt.args.deployment_id}/approve", json=body or None
    )
    show_deployment(rt, item)
    return 0


def reject(rt: Runtime) -> int:
    item = rt.client("deployments").call(
        "POST", f"/v1/deployments/{rt.args.deployment_id}/reject", json={"comment": rt.args.comment}
    )
    show_deployment(rt, item)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = group(commands, "deployments", "the deployment queue")

    p = leaf(sub, common, "list", list_deployments, "list deployments, newest first")
    taxonomy_options(p, required=False)
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--environment")
    p.add_argument("--trigger", choices=TRIGGERS)
    p.add_argument("--limit", type=int, default=None, help="page size (1..1000, default 100)")
    p.add_argument("--page-token", help="continue from X-Next-Page-Token")
    p.add_argument("--all", action="store_true", help="follow every page")

    p = leaf(sub, common, "show", show, "one deployment")
    p.add_argument("deployment_id")

    create_command(sub, common)

    p = leaf(
        sub,
        common,
        "update",
        update,
        "change status (deployed auto-skips older scheduled ones), notes or deployment URI",
    )
    p.add_argument("deployment_id")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--notes")
    p.add_argument("--deployment-uri")
    p.add_argument("--override-reason", help="admin only: pass a freeze window")

    p = leaf(
        sub,
        common,
        "rollback",
        rollback,
        "queue a rollback: from a deployment id, or of a taxonomy to its previous version",
    )
    p.add_argument("deployment_id", nargs="?")
    taxonomy_options(p, required=False)
    p.add_argument("--target-version", help="roll back to this deployed version")

    p = leaf(
        sub,
        common,
        "claim",
        claim,
        "take the newest scheduled deployment of a taxonomy (moves it to in_progress)",
    )
    taxonomy_options(p, required=True)

    p = leaf(sub, common, "approve", approve, "approve a deployment waiting for approval")
    p.add_argument("deployment_id")
    p.add_argument("--comment")

    p = leaf(sub, common, "reject", reject, "reject a deployment waiting for approval")
    p.add_argument("deployment_id")
    p.add_argument("--comment", required=True)


def create_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq deployments create`: every field of a deployment as a flag."""
    p = leaf(sub, common, "create", create, "queue a deployment (status scheduled)")
    taxonomy_options(p, required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--type", required=True, choices=TYPES)
    p.add_argument("--environment")
    p.add_argument("--commit-sha")
    p.add_argument("--commit-timestamp", help="RFC 3339 time of the commit (DORA lead time)")
    p.add_argument("--extra-params", help="pipeline_extra_params, kept as sent")
    p.add_argument("--description")
    p.add_argument("--notes")
    p.add_argument("--build-uri")
    p.add_argument("--deployment-uri")
    p.add_argument("--resource")
    p.add_argument("--manual", action="store_true", help="auto=false (trigger manual)")
    p.add_argument("--idempotency-key", help="default: a fresh UUID (safe retries)")
