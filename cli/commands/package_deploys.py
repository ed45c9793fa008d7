"""`deployq packages deploy|deployments|deployment|rollback` and `deployq jobs ...`: where
packages go, the reports of their deployments, and the jobs that run them."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from cli.commands import group, leaf
from cli.errors import EXIT_FAILURE
from cli.runtime import Runtime

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


def deploy_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq packages deploy`: now, in the background, or at a time."""
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


def deployment_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq packages deployments|deployment|rollback`: package deployments and undoing one."""
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


def jobs_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq jobs show|cancel`: background and scheduled package jobs."""
    sub = group(commands, "jobs", "background and scheduled package jobs")
    p = leaf(sub, common, "show", job_show, "a job's status and result")
    p.add_argument("job_id")
    p.add_argument("--wait", action="store_true", help="poll until the job is finished")
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="SECONDS")
    p = leaf(sub, common, "cancel", job_cancel, "cancel a waiting or running job")
    p.add_argument("job_id")
