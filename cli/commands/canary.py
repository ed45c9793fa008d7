"""`deployq canary ...`: canary rollouts of Cloud Run revisions, and the stand-alone monitor."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands import csv_list, drop_none, group, leaf
from cli.errors import EXIT_FAILURE
from cli.runtime import Runtime

CANARY_COLUMNS = [
    "id",
    "service",
    ("canary_revision", "CANARY"),
    ("stable_revision", "STABLE"),
    "strategy",
    "status",
    ("traffic_percent", "TRAFFIC %"),
    "reason",
    ("created_at", "CREATED"),
]
CHECK_COLUMNS = [
    ("number", "#"),
    "at",
    ("request_count", "REQUESTS"),
    ("error_rate_pct", "ERR %"),
    ("p95_ms", "P95 MS"),
    ("p99_ms", "P99 MS"),
    ("stable.error_rate_pct", "STABLE ERR %"),
    ("stable.p99_ms", "STABLE P99"),
    "verdict",
    "reason",
]
FIELDS = [
    "id",
    "status",
    "strategy",
    "reason",
    "traffic_percent",
    "step",
    "check_count",
    "next_check_at",
    "project",
    "region",
    "service",
    "canary_revision",
    "stable_revision",
    "deployment_id",
    "environment",
    "steps",
    "step_minutes",
    "interval_seconds",
    "thresholds",
    "on_no_data",
    "delete_canary_on_rollback",
    "compare_to_stable",
    "consecutive_error_limit",
    "verify",
    "created_at",
    "updated_at",
]
FINAL = ("promoted", "rolled_back", "aborted", "failed")


def compare_arguments(p) -> None:
    """The canary-versus-stable margins, the same for a rollout and for `monitor`."""
    p.add_argument(
        "--compare-error-margin-pct",
        type=float,
        help="unhealthy when errors exceed stable's by more than this many points",
    )
    p.add_argument(
        "--compare-p99-margin-pct",
        type=float,
        help="unhealthy when p99 exceeds stable's by more than this percent",
    )


def check_arguments(p) -> None:
    """The rollout's steps and pace, and the thresholds of its checks (rollout and release)."""
    p.add_argument("--steps", type=steps, help="traffic percentages, e.g. 10,50 (default 10)")
    p.add_argument("--step-minutes", type=float)
    p.add_argument("--interval-seconds", type=float)
    p.add_argument("--max-error-rate-pct", type=float)
    p.add_argument("--max-p95-ms", type=float)
    p.add_argument("--max-p99-ms", type=float)
    p.add_argument("--min-requests", type=int)
    p.add_argument("--on-no-data", choices=("rollback", "hold"))


def checks_of(a: argparse.Namespace) -> dict[str, Any]:
    """The body fields of `check_arguments` and `compare_arguments` (None: not given)."""
    thresholds = drop_none(
        {
            "max_error_rate_pct": a.max_error_rate_pct,
            "max_p95_ms": a.max_p95_ms,
            "max_p99_ms": a.max_p99_ms,
            "min_requests": a.min_requests,
        }
    )
    compare = drop_none(
        {
            "error_rate_margin_pct": a.compare_error_margin_pct,
            "p99_margin_pct": a.compare_p99_margin_pct,
        }
    )
    return {
        "steps": a.steps,
        "step_minutes": a.step_minutes,
        "interval_seconds": a.interval_seconds,
        "thresholds": thresholds or None,
        "on_no_data": a.on_no_data,
        "compare_to_stable": compare or None,
    }


def render_canary(rt: Runtime, canary: dict[str, Any]) -> None:
    rt.record(
        canary,
        [f for f in FIELDS if f in canary]
        + [f for f in canary if f not in FIELDS and f != "checks"],
    )
    checks = canary.get("checks") or []
    if checks:
        rt.say("\nchecks:")
        rt.table(checks, CHECK_COLUMNS)


def start(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {
            "project": a.project,
            "region": a.region,
            "service": a.service,
            "canary_revision": a.canary_revision,
            "stable_revision": a.stable_revision,
            "deployment_id": a.deployment_id,
            "environment": a.environment,
            "strategy": a.strategy,
            **checks_of(a),
            "consecutive_error_limit": a.consecutive_error_limit,
            "verify": drop_none({"path": a.verify_path, "timeout_seconds": a.verify_timeout})
            if a.verify_path
            else None,
        }
    )
    if a.keep_canary_on_rollback:
        body["delete_canary_on_rollback"] = False
    canary = rt.client("canary").call("POST", "/v1/canaries", json=body)
    if a.watch:
        rt.progress(f"canary {canary['id']} {canary.get('status')}; watching")
        return watch_until_done(rt, canary["id"], a.poll_interval)
    rt.emit(canary, lambda c: render_canary(rt, c))
    return 0


def list_canaries(rt: Runtime) -> int:
    data = rt.client("canary").call("GET", "/v1/canaries", params={"status": rt.args.status})
    rt.emit(data, lambda rows: rt.table(rows, CANARY_COLUMNS))
    return 0


def status(rt: Runtime) -> int:
    if not rt.args.canary_id:
        return list_canaries(rt)
    canary = rt.client("canary").call("GET", f"/v1/canaries/{rt.args.canary_id}")
    rt.emit(canary, lambda c: render_canary(rt, c))
    return 0


def promote(rt: Runtime) -> int:
    return act(rt, "promote")


def abort(rt: Runtime) -> int:
    return act(rt, "abort")


def act(rt: Runtime, action: str) -> int:
    """POST a canary's `promote` or `abort` and show the canary it answers."""
    canary = rt.client("canary").call("POST", f"/v1/canaries/{rt.args.canary_id}/{action}")
    rt.emit(canary, lambda c: render_canary(rt, c))
    return 0


def watch(rt: Runtime) -> int:
    return watch_until_done(rt, rt.args.canary_id, rt.args.poll_interval)


def watch_until_done(rt: Runtime, canary_id: str, interval: float) -> int:
    """Follow a canary, one stderr line per new check, until it is final or held.

    Exit 0 when promoted; 1 when rolled back, aborted, failed or held (a person must act).
    """
    client = rt.client("canary")
    seen, last_status = 0, None
    while True:
        canary = client.call("GET", f"/v1/canaries/{canary_id}")
        checks = canary.get("checks") or []
        for check in checks[seen:]:
            rt.progress(
                f"check {check.get('number')}: {check.get('verdict')} "
                f"({check.get('request_count')} requests, {check.get('error_rate_pct')}% errors, "
                f"p95 {check.get('p95_ms')} ms, p99 {check.get('p99_ms')} ms) {check.get('reason')}"
            )
        seen = len(checks)
        state = canary.get("status")
        if state != last_status:
            traffic = canary.get("traffic_percent")
            rt.progress(
                f"canary {canary_id}: {state}"
                + (f" at {traffic}% traffic" if traffic is not None else "")
            )
            last_status = state
        if state in FINAL or state == "held":
            rt.emit(canary, lambda c: render_canary(rt, c))
            if state != "promoted":
                rt.progress(f"canary {state}: {canary.get('reason') or 'no reason given'}")
            return 0 if state == "promoted" else EXIT_FAILURE
        rt.sleep(interval)


def monitor(rt: Runtime) -> int:
    from cli import monitor as monitor_module

    return monitor_module.run(rt)


def steps(value: str) -> list[int]:
    try:
        result = [int(v) for v in csv_list(value)]
    except ValueError:
        raise argparse.ArgumentTypeError("steps are integers, e.g. 10,25,50") from None
    if not result:
        raise argparse.ArgumentTypeError("give at least one step")
    return result


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = group(commands, "canary", "canary rollouts of Cloud Run revisions")

    start_command(sub, common)

    p = leaf(sub, common, "list", list_canaries, "canaries, newest first")
    p.add_argument("--status", choices=("progressing", "held") + FINAL)

    p = leaf(sub, common, "status", status, "a canary with every check (no id: list them)")
    p.add_argument("canary_id", nargs="?")
    p.add_argument("--status", choices=("progressing", "held") + FINAL, help="filter when listing")

    p = leaf(
        sub,
        common,
        "watch",
        watch,
        "follow a canary until it ends: exit 0 promoted, 1 rolled back/aborted/failed/held",
    )
    p.add_argument("canary_id")
    p.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS")

    p = leaf(sub, common, "promote", promote, "give the canary 100% now")
    p.add_argument("canary_id")

    p = leaf(sub, common, "abort", abort, "send all traffic back to stable")
    p.add_argument("canary_id")

    monitor_command(sub, common)


def start_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq canary start`: a rollout run by the canary function."""
    p = leaf(sub, common, "start", start, "shift a share of traffic to a new revision and watch it")
    p.add_argument("--project", required=True, help="project of the Cloud Run service")
    p.add_argument("--region", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--canary-revision", required=True, help="e.g. api-00042-xyz")
    p.add_argument("--stable-revision", help="default: the revision serving most traffic")
    p.add_argument("--deployment-id", help="deployq deployment marked deployed/failed at the end")
    p.add_argument("--environment")
    p.add_argument("--strategy", choices=("canary", "blue_green", "all_at_once"))
    check_arguments(p)
    p.add_argument(
        "--keep-canary-on-rollback",
        action="store_true",
        help="do not delete the canary revision on rollback",
    )
    compare_arguments(p)
    p.add_argument("--consecutive-error-limit", type=int)
    p.add_argument("--verify-path", help="GET this path on the new revision before any traffic")
    p.add_argument("--verify-timeout", type=float)
    p.add_argument("--watch", action="store_true", help="follow it until it ends (exit 0 promoted)")
    p.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS")


def monitor_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq canary monitor`: the decision loop run from here."""
    p = leaf(
        sub,
        common,
        "monitor",
        monitor,
        "run the canary decision loop from here, without the deployq stack: "
        "exit 0 promoted, 1 rolled back",
    )
    p.add_argument("--project-id", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--revision", required=True, help="the canary revision")
    p.add_argument("--stable-revision", help="default: the revision serving most traffic")
    p.add_argument("--duration", type=float, default=15.0, help="minutes (default 15)")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between checks (60)")
    p.add_argument("--error-rate-threshold", type=float, default=1.0, help="max 5xx %% (1.0)")
    p.add_argument("--latency-threshold", type=float, default=60000.0, help="max p95 ms (60000)")
    p.add_argument("--p99-threshold", type=float, default=120000.0, help="max p99 ms (120000)")
    p.add_argument("--min-requests", type=int, default=100, help="before a verdict (100)")
    p.add_argument(
        "--on-no-data",
        choices=("rollback", "hold"),
        default="rollback",
        help="when the canary never reached --min-requests (rollback)",
    )
    p.add_argument(
        "--no-rollback", action="store_true", help="report the verdict only; change no traffic"
    )
    p.add_argument("--keep-canary-on-rollback", action="store_true")
    p.add_argument(
        "--no-promote", action="store_true", help="on success leave traffic as it is (exit 0)"
    )
    p.add_argument(
        "--traffic-percent", type=int, help="first give the canary this share of traffic (1..99)"
    )
    compare_arguments(p)
    p.add_argument(
        "--consecutive-error-limit",
        type=int,
        default=4,
        help="roll back after this many checks Monitoring could not answer (4)",
    )
