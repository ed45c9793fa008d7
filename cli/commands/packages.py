"""`deployq packages ...` and `deployq jobs ...`: data packages, their deployments and jobs."""

from __future__ import annotations

import argparse
import json
import re
import uuid
from pathlib import Path
from typing import Any

from cli.commands import csv_list, drop_none, group, json_value, leaf
from cli.errors import EXIT_FAILURE, UsageError
from cli.runtime import Runtime

PACKAGE_COLUMNS = [
    "id",
    "name",
    "version",
    ("package_type", "TYPE"),
    ("environment", "ENV"),
    "status",
    ("size_bytes", "BYTES"),
    ("metadata.total_records", "RECORDS"),
    ("created_at", "CREATED"),
]
DEPLOYMENT_COLUMNS = [
    "id",
    ("package_id", "PACKAGE"),
    ("environment", "ENV"),
    "status",
    ("is_active", "ACTIVE"),
    ("dry_run", "DRY RUN"),
    ("records_succeeded", "OK"),
    ("records_skipped", "SKIPPED"),
    ("records_failed", "FAILED"),
    ("deployed_at", "DEPLOYED"),
]
ACTION_COLUMNS = [
    ("performed_at", "TIME"),
    ("action_type", "ACTION"),
    ("action_status", "STATUS"),
    ("source_environment", "FROM"),
    ("target_environment", "TO"),
    ("records_processed", "RECORDS"),
    ("records_failed", "FAILED"),
    ("duration_seconds", "SECONDS"),
    ("performed_by", "BY"),
]
REPORT_FIELDS = [
    "id",
    "package_id",
    "environment",
    "status",
    "dry_run",
    "is_active",
    "deployed_at",
    "deployed_by",
    "records_processed",
    "records_succeeded",
    "records_skipped",
    "records_failed",
    "tables_processed",
    "rolled_back_at",
    "rolled_back_by",
]
FINAL_JOB_STATUSES = ("completed", "failed", "cancelled", "timeout")
DEPLOY_OPTIONS = (
    "skip_existing",
    "update_existing",
    "validate_references",
    "create_missing",
    "continue_on_error",
    "dry_run",
)


def packages_client(rt: Runtime):
    return rt.client("packages")


# -- packages ---------------------------------------------------------------------


def list_packages(rt: Runtime) -> int:
    a = rt.args
    data = packages_client(rt).call(
        "GET",
        "/v1/packages",
        params={
            "status": a.status,
            "package_type": a.type,
            "environment": a.environment,
            "limit": a.limit,
            "offset": a.offset,
        },
    )
    rt.emit(
        data,
        lambda d: rt.table(d.get("packages", []), PACKAGE_COLUMNS),
    )
    return 0


def show_package(rt: Runtime) -> int:
    data = packages_client(rt).call("GET", f"/v1/packages/{rt.args.package_id}")

    def render(d: dict[str, Any]) -> None:
        rt.record(d.get("package") or {})
        actions = d.get("recent_actions") or []
        if actions:
            rt.say("\nrecent actions:")
            rt.table(actions, ACTION_COLUMNS)

    rt.emit(data, render)
    return 0


def build_filter(a: argparse.Namespace) -> dict[str, Any] | None:
    """The `filter` of a create body from --tables/--collections/--table/--where/--exclude."""
    result: dict[str, Any] = dict(a.filter or {})
    tables = list(a.tables or []) + list(a.table or [])
    if tables:
        result["tables"] = tables
    if a.collections:
        result["collections"] = a.collections
    for item in a.where or []:
        name, condition = split_assignment(item, "--where")
        try:
            parsed = json.loads(condition)
        except ValueError:
            parsed = condition
        result.setdefault("where_clause", {})[name] = (
            parsed if isinstance(parsed, list) else condition
        )
    for item in a.exclude or []:
        name, columns = split_assignment(item, "--exclude")
        result.setdefault("exclude_columns", {})[name] = csv_list(columns)
    return result or None


def split_assignment(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"{flag} takes NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def create_package(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {
            "name": a.name,
            "version": a.version,
            "package_type": a.type,
            "environment": a.environment,
            "description": a.description,
            "metadata": a.metadata,
            "tags": a.tags,
            "filter": build_filter(a),
        }
    )
    data = packages_client(rt).call("POST", "/v1/packages", json=body)
    rt.emit(data, lambda d: rt.record(d.get("package") or {}))
    return 0


def update_package(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {"description": a.description, "status": a.status, "tags": a.tags, "metadata": a.metadata}
    )
    if not body:
        raise UsageError("nothing to change: give --description, --status, --tags or --metadata")
    data = packages_client(rt).call("PUT", f"/v1/packages/{a.package_id}", json=body)
    rt.emit(data, lambda d: rt.say(d.get("message") or f"updated {a.package_id}"))
    return 0


def delete_package(rt: Runtime) -> int:
    data = packages_client(rt).call("DELETE", f"/v1/packages/{rt.args.package_id}")
    rt.emit(data, lambda d: rt.say((d or {}).get("message") or "deleted"))
    return 0


def generate(rt: Runtime) -> int:
    a = rt.args
    response = packages_client(rt).request(
        "POST",
        f"/v1/packages/{a.package_id}/generate",
        json={"format": a.format},
        headers={"Accept": "application/zip" if a.format == "zip" else "application/json"},
    )
    target = a.output
    if target is None and a.format == "zip":
        target = (
            attachment_name(response.headers.get("Content-Disposition"))
            or f"package-{a.package_id}.zip"
        )
    if target is None or target == "-":
        rt.stdout.write(response.content.decode())
        if not response.content.endswith(b"\n"):
            rt.stdout.write("\n")
        return 0
    Path(target).write_bytes(response.content)
    rt.progress(f"wrote {len(response.content)} bytes to {target}")
    if rt.json:
        rt.emit({"file": target, "bytes": len(response.content), "format": a.format})
    return 0


def attachment_name(disposition: str | None) -> str | None:
    """The base file name of a `Content-Disposition: attachment; filename=...` header."""
    match = re.search(r'filename="?([^";]+)"?', disposition or "")
    return Path(match.group(1)).name if match else None


def import_package(rt: Runtime) -> int:
    a = rt.args
    try:
        content = Path(a.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {a.file}: {exc}") from None
    client = packages_client(rt)
    if content[:2] == b"PK":  # a ZIP made by `packages generate --format zip`
        data = client.call(
            "POST",
            "/v1/packages/import",
            data=content,
            content_type="application/zip",
            params={"environment": a.environment},
        )
    else:
        try:
            document = json.loads(content)
        except ValueError as exc:
            raise UsageError(f"{a.file} is neither a ZIP nor JSON: {exc}") from None
        if not (isinstance(document, dict) and "package_data" in document):
            document = {"package_data": document}
        if a.environment:
            document["environment"] = a.environment
        data = client.call("POST", "/v1/packages/import", json=document)
    rt.emit(data, lambda d: rt.record(d.get("package") or {}))
    return 0


def render_report(rt: Runtime, report: dict[str, Any]) -> None:
    rt.record(report, [f for f in REPORT_FIELDS if f in report])
    mapping = report.get("pk_mapping_result") or {}
    for table, keys in mapping.items():
        for old, new in (keys or {}).items():
            rt.say(f"key remapped  {table}: {old} -> {new}")
    errors = report.get("errors") or []
    if errors:
        rt.say("\nerrors:")
        rt.table(errors, ["table", "key", "error"])


def deploy(rt: Runtime) -> int:
    a = rt.args
    options = {name: True for name in DEPLOY_OPTIONS if getattr(a, name)}
    if a.batch_size is not None:
        options["batch_size"] = a.batch_size
    if a.transaction_size is not None:
        options["transaction_size"] = a.transaction_size
    body: dict[str, Any] = {"environment": a.environment, "options": options}
    if a.background:
        body["run_as_background"] = True
    if a.schedule_at:
        body["schedule_at"] = a.schedule_at
    # A job is created once per key, so a retried request never queues a second job; a
    # synchronous deploy has no key and is never retried.
    headers = {"Idempotency-Key": str(uuid.uuid4())} if a.background or a.schedule_at else {}
    data = packages_client(rt).call(
        "POST", f"/v1/packages/{a.package_id}/deploy", json=body, headers=headers
    )
    if isinstance(data, dict) and data.get("job_id"):
        wait = a.wait if a.wait is not None else not a.schedule_at
        if not wait:
            rt.emit(
                data,
                lambda d: rt.say(
                    f"job {d['job_id']} {d.get('status')}: follow it with "
                    f"`deployq jobs show {d['job_id']} --wait`"
                ),
            )
            return 0
        rt.progress(
            f"job {data['job_id']} {data.get('status')}; waiting (Ctrl-C stops waiting, "
            "not the job)"
        )
        job = wait_job(rt, data["job_id"], a.poll_interval)
        return emit_job(rt, job)
    report = (data or {}).get("deployment") or {}
    rt.emit(data, lambda d: render_report(rt, report))
    return EXIT_FAILURE if report.get("status") == "failed" else 0


def package_deployments(rt: Runtime) -> int:
    a = rt.args
    params = {
        "environment": a.environment,
        "package_id": a.package_id,
        "limit": a.limit,
        "offset": a.offset,
    }
    if a.active is not None:
        params["is_active"] = a.active
    data = packages_client(rt).call("GET", "/v1/package-deployments", params=params)
    rt.emit(data, lambda d: rt.table(d.get("deployments", []), DEPLOYMENT_COLUMNS))
    return 0


def package_deployment(rt: Runtime) -> int:
    data = packages_client(rt).call("GET", f"/v1/package-deployments/{rt.args.deployment_id}")
    rt.emit(data, lambda d: render_report(rt, d.get("deployment") or {}))
    return 0


def rollback_deployment(rt: Runtime) -> int:
    data = packages_client(rt).call(
        "POST", f"/v1/package-deployments/{rt.args.deployment_id}/rollback"
    )
    rt.emit(
        data,
        lambda d: render_report(rt, d.get("deployment") or {}),
    )
    return 0


def actions(rt: Runtime) -> int:
    a = rt.args
    data = packages_client(rt).call(
        "GET", f"/v1/packages/{a.package_id}/actions", params={"limit": a.limit, "offset": a.offset}
    )
    rt.emit(data, lambda d: rt.table(d.get("actions", []), ACTION_COLUMNS))
    return 0


# -- jobs -------------------------------------------------------------------------


def wait_job(rt: Runtime, job_id: str, interval: float) -> dict[str, Any]:
    """Poll a job until it is final, printing each status change on stderr."""
    client = packages_client(rt)
    started, last, last_note = rt.clock(), None, rt.clock()
    while True:
        job = client.call("GET", f"/v1/jobs/{job_id}")
        status = job.get("status")
        elapsed = rt.clock() - started
        if status != last or rt.clock() - last_note >= 30:
            attempt = f" (attempt {job['attempts']})" if job.get("attempts") else ""
            rt.progress(f"[{elapsed:6.1f}s] job {job_id}: {status}{attempt}")
            last, last_note = status, rt.clock()
        if status in FINAL_JOB_STATUSES:
            return job
        rt.sleep(interval)


def emit_job(rt: Runtime, job: dict[str, Any]) -> int:
    def render(j: dict[str, Any]) -> None:
        rt.record(j, [k for k in j if k not in ("result", "job_data")])
        if j.get("job_data"):
            rt.say(f"job_data  {json.dumps(j['job_data'], sort_keys=True)}")
        if isinstance(j.get("result"), dict):
            rt.say("\nresult:")
            render_report(rt, j["result"])

    rt.emit(job, render)
    return EXIT_FAILURE if job.get("status") in ("failed", "cancelled", "timeout") else 0


def job_show(rt: Runtime) -> int:
    if rt.args.wait:
        return emit_job(rt, wait_job(rt, rt.args.job_id, rt.args.poll_interval))
    job = packages_client(rt).call("GET", f"/v1/jobs/{rt.args.job_id}")
    emit_job(rt, job)
    return 0


def job_cancel(rt: Runtime) -> int:
    data = packages_client(rt).call("DELETE", f"/v1/jobs/{rt.args.job_id}")
    rt.emit(data, lambda d: rt.record(d) if isinstance(d, dict) else rt.say("cancelled"))
    return 0


def _bool(value: str) -> bool:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = group(commands, "packages", "data packages: capture, generate, import, deploy")

    p = leaf(sub, common, "list", list_packages, "list packages, newest first")
    p.add_argument("--status", choices=("active", "archived", "deleted"))
    p.add_argument("--type", choices=("database", "document"))
    p.add_argument("--environment")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)

    p = leaf(sub, common, "show", show_package, "one package and its recent actions")
    p.add_argument("package_id")

    p = leaf(
        sub,
        common,
        "create",
        create_package,
        "capture collections (document) or tables (database) of a source environment",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--type", required=True, choices=("database", "document"))
    p.add_argument("--environment", required=True, help="source environment")
    p.add_argument("--description")
    p.add_argument("--metadata", type=json_value, help="JSON object (or @file.json)")
    p.add_argument("--tags", type=csv_list, help="comma list")
    p.add_argument("--tables", type=csv_list, help="comma list of table names (database)")
    p.add_argument(
        "--table",
        type=json_value,
        action="append",
        help='a table with keys, JSON: {"name","primary_key","foreign_keys"} (repeatable)',
    )
    p.add_argument("--collections", type=csv_list, help="comma list (document)")
    p.add_argument(
        "--where",
        action="append",
        metavar="NAME=CONDITION",
        help="e.g. users=\"active = TRUE AND created >= '2025-01-01'\" or a JSON "
        'list [["age", ">=", 18]] (repeatable)',
    )
    p.add_argument(
        "--exclude",
        action="append",
        metavar="NAME=COL,COL",
        help="columns left out of a table/collection (repeatable)",
    )
    p.add_argument("--filter", type=json_value, help="the whole filter as JSON (or @file.json)")

    p = leaf(
        sub,
        common,
        "update",
        update_package,
        "change description, status, tags or metadata (never the contents)",
    )
    p.add_argument("package_id")
    p.add_argument("--description")
    p.add_argument("--status", choices=("active", "archived"))
    p.add_argument("--tags", type=csv_list)
    p.add_argument("--metadata", type=json_value)

    p = leaf(sub, common, "delete", delete_package, "delete a package (soft)")
    p.add_argument("package_id")

    p = leaf(sub, common, "generate", generate, "download a package as JSON or ZIP")
    p.add_argument("package_id")
    p.add_argument("--format", choices=("json", "zip"), default="json")
    p.add_argument("-o", "--output", help="file (json default: stdout; zip default: its name)")

    p = leaf(
        sub, common, "import", import_package, "create a package from a generated JSON or ZIP file"
    )
    p.add_argument("file")
    p.add_argument("--environment", help="the environment the package belongs to")

    p = leaf(
        sub,
        common,
        "deploy",
        deploy,
        "deploy a package into an environment (now, in the background, or at a time)",
    )
    p.add_argument("package_id")
    p.add_argument("--environment", required=True, help="target environment")
    for name in DEPLOY_OPTIONS:
        p.add_argument(f"--{name.replace('_', '-')}", action="store_true")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--transaction-size", type=int)
    p.add_argument("--background", action="store_true", help="run as a job")
    p.add_argument("--schedule-at", metavar="TIME", help="RFC 3339: run as a job at that time")
    p.add_argument(
        "--wait",
        dest="wait",
        action="store_true",
        default=None,
        help="wait for the job (default for --background)",
    )
    p.add_argument("--no-wait", dest="wait", action="store_false", help="print the job id only")
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS")

    p = leaf(sub, common, "actions", actions, "the action history of a package")
    p.add_argument("package_id")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)

    p = leaf(sub, common, "deployments", package_deployments, "package deployments")
    p.add_argument("--environment")
    p.add_argument("--package-id")
    p.add_argument("--active", type=_bool, metavar="true|false")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)

    p = leaf(sub, common, "deployment", package_deployment, "one package deployment (report)")
    p.add_argument("deployment_id")

    p = leaf(
        sub,
        common,
        "rollback",
        rollback_deployment,
        "undo a package deployment (restores every document it touched)",
    )
    p.add_argument("deployment_id")

    sub = group(commands, "jobs", "background and scheduled package jobs")
    p = leaf(sub, common, "show", job_show, "a job's status and result")
    p.add_argument("job_id")
    p.add_argument("--wait", action="store_true", help="poll until the job is finished")
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS")
    p = leaf(sub, common, "cancel", job_cancel, "cancel a waiting or running job")
    p.add_argument("job_id")
