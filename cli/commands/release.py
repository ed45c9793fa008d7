"""`deployq release`: queue a deployment, wait for its approval, claim it and run its Cloud
Run canary to the end, with a live progress display (the GitHub Action's flow, for people)."""

from __future__ import annotations

import argparse
import itertools
import uuid
from typing import Any, TextIO

from cli.action.summary import check_line
from cli.commands import drop_none, leaf, missing_flags
from cli.commands.canary import (
    check_arguments,
    checks_of,
    compare_arguments,
    render_canary,
)
from cli.commands.deployments import PROVIDERS, TYPES
from cli.errors import EXIT_FAILURE, ApiFailure, UsageError
from cli.flow import Release, ReleaseFailed, Watcher, canary_timeout_seconds, taxonomy_of
from cli.runtime import Runtime

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LiveDisplay(Watcher):
    """Progress on stderr: a line per event, and on a terminal a status line kept at the
    bottom and redrawn in place (phase, traffic, checks, elapsed time)."""

    def __init__(self, stream: TextIO, *, quiet: bool = False, live: bool | None = None):
        self.stream = stream
        self.quiet = quiet
        self.live = (stream.isatty() if live is None else live) and not quiet
        self.status = ""
        self._spinner = itertools.cycle(SPINNER)

    def _clear(self) -> None:
        if self.live and self.status:
            self.stream.write("\r\033[K")

    def _draw(self) -> None:
        if self.live and self.status:
            self.stream.write(f"{next(self._spinner)} {self.status}")
        self.stream.flush()

    def line(self, text: str) -> None:
        if self.quiet:
            return
        self._clear()
        self.stream.write(text + "\n")
        self._draw()

    def set_status(self, text: str) -> None:
        if not self.live:
            return
        self._clear()
        self.status = text
        self._draw()

    def done(self) -> None:
        self._clear()
        self.status = ""
        if not self.quiet:
            self.stream.flush()

    # -- Watcher ------------------------------------------------------------------

    def waiting_for_approval(self, deployment: dict[str, Any], elapsed: float) -> None:
        given = len(deployment.get("approvals") or [])
        self.set_status(
            f"waiting for approval of {deployment['id']} ({given} given) {clock_text(elapsed)}"
        )

    def check(self, canary: dict[str, Any], check: dict[str, Any]) -> None:
        self.line("  " + check_line(check))

    def canary_status(self, canary: dict[str, Any]) -> None:
        reason = canary.get("reason")
        self.line(
            f"canary {canary.get('status')} at {canary.get('traffic_percent')}% traffic"
            + (f": {reason}" if reason else "")
        )
        self.tick(canary, 0)

    def tick(self, canary: dict[str, Any], elapsed: float) -> None:
        planned = len(canary.get("steps") or []) if canary.get("strategy") == "canary" else 1
        self.set_status(
            f"canary {canary.get('canary_revision')}: {canary.get('status')}, "
            f"step {canary.get('step') or 0}/{planned}, {canary.get('traffic_percent')}% traffic, "
            f"{canary.get('check_count') or 0} checks, {clock_text(elapsed)}"
        )


def clock_text(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes:02d}:{seconds:02d}"


def deployment_body(a: argparse.Namespace) -> dict[str, Any]:
    missing = missing_flags(
        {"--name": a.name, "--version": a.version, "--provider": a.provider, "--type": a.type}
    )
    if missing:
        raise UsageError(
            "a release needs --deployment-id, or the deployment to queue: missing "
            + ", ".join(missing)
        )
    return drop_none(
        {
            "name": a.name,
            "version": a.version,
            "provider": a.provider,
            "type": a.type,
            "environment": a.environment,
            "cloud_account_id": a.cloud_account_id or None,
            "region": a.region or None,
            "cell": a.cell or None,
            "commit_sha": a.commit_sha,
            "description": a.description,
            "notes": a.notes,
        }
    )


def canary_body(a: argparse.Namespace, deployment: dict[str, Any]) -> dict[str, Any]:
    project = a.project or deployment.get("cloud_account_id")
    region = a.region or deployment.get("region")
    if not project or not region:
        raise UsageError("the canary needs --project and --region (or a deployment with them)")
    strategy = "all_at_once" if a.skip_canary else a.strategy
    return drop_none(
        {
            "project": project,
            "region": region,
            "service": a.service or deployment.get("name"),
            "canary_revision": a.canary_revision,
            "stable_revision": a.stable_revision,
            "deployment_id": deployment["id"],
            "strategy": strategy,
            **checks_of(a),
            "verify": {"path": a.verify_path} if a.verify_path else None,
        }
    )


def release(rt: Runtime) -> int:
    a = rt.args
    display = LiveDisplay(rt.stderr, quiet=bool(getattr(a, "quiet", False)))
    flow = Release(
        rt.client("deployments"),
        lambda: rt.client("canary"),
        watcher=display,
        sleep=rt.sleep,
        clock=rt.clock,
    )
    result: dict[str, Any] = {"deployment": None, "canary": None}
    try:
        code = run_release(rt, flow, display, result)
    except ReleaseFailed as exc:
        display.done()
        display.line(f"✗ {exc.reason}")
        result["reason"] = exc.reason
        if rt.json:
            rt.emit(result)
        return EXIT_FAILURE
    finally:
        display.done()
    return code


def run_release(rt: Runtime, flow: Release, display: LiveDisplay, result: dict) -> int:
    a = rt.args
    if a.deployment_id:
        deployment = flow.get(a.deployment_id)
        display.line(
            f"✓ deployment {deployment['id']}: {deployment.get('name')} "
            f"{deployment.get('version')} ({deployment.get('status')})"
        )
    else:
        key = a.idempotency_key or str(uuid.uuid4())
        deployment = flow.create(deployment_body(a), key)
        display.line(
            f"✓ queued deployment {deployment['id']}: {deployment.get('name')} "
            f"{deployment.get('version')} to {deployment.get('environment') or 'no environment'}"
        )
    result["deployment"] = deployment
    if deployment.get("approval_status") == "pending":
        display.line(f"… deployment {deployment['id']} needs approval; waiting")
    deployment = flow.wait_for_approval(
        deployment["id"], timeout=a.approval_timeout * 60, interval=a.poll_interval
    )
    if deployment.get("approval_status") == "approved":
        approvers = ", ".join(
            x.get("actor") for x in deployment.get("approvals") or [] if x.get("actor")
        )
        display.line(f"✓ approved by {approvers}")
    if deployment.get("status") == "scheduled":
        deployment = flow.claim(taxonomy_of(deployment), expected_id=deployment["id"])
        display.line(f"✓ claimed {deployment['id']} from the queue ({deployment['status']})")
    result["deployment"] = deployment
    body = canary_body(a, deployment)
    try:
        canary = flow.start_canary(body)
    except ApiFailure as exc:
        flow.give_up(deployment["id"], f"canary not started: {exc.message}", queue_rollback=False)
        raise
    result["canary"] = canary
    display.line(
        f"✓ canary {canary['id']} started: {canary['canary_revision']} against "
        f"{canary.get('stable_revision')}, {canary.get('strategy')}, steps {canary.get('steps')}"
    )
    timeout = a.canary_timeout * 60 if a.canary_timeout else canary_timeout_seconds(canary)
    final = flow.follow_canary(canary["id"], interval=a.poll_interval, timeout=timeout)
    display.done()
    result["canary"] = final
    result["deployment"] = flow.get(deployment["id"])
    status, reason = final.get("status"), final.get("reason") or ""
    if rt.json:
        rt.emit({**result, "reason": reason})
    else:
        render_canary(rt, final)
    if status == "promoted":
        display.line(f"✓ promoted: {reason}; deployment {deployment['id']} is deployed")
        return 0
    display.line(f"✗ canary {status}: {reason}")
    return EXIT_FAILURE


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = leaf(
        commands,
        common,
        "release",
        release,
        "queue a deployment, wait for its approval, claim it and run its Cloud Run canary "
        "to the end: exit 0 promoted, 1 rejected, rolled back or failed",
    )
    q = p.add_argument_group("the deployment (or --deployment-id to release a queued one)")
    q.add_argument("--deployment-id", help="release this queued deployment instead")
    q.add_argument("--name", help="component name (the Cloud Run service by default)")
    q.add_argument("--version")
    q.add_argument("--provider", choices=PROVIDERS)
    q.add_argument("--type", choices=TYPES)
    q.add_argument("--environment")
    q.add_argument("--cloud-account-id", help="cloud account / project (the canary's project)")
    q.add_argument("--region", help="region (the Cloud Run region)")
    q.add_argument("--cell")
    q.add_argument("--commit-sha")
    q.add_argument("--description")
    q.add_argument("--notes")
    q.add_argument("--idempotency-key", help="default: a fresh UUID (safe retries)")
    q.add_argument(
        "--approval-timeout",
        type=float,
        default=60.0,
        metavar="MINUTES",
        help="how long to wait for an approval (60)",
    )
    c = p.add_argument_group("the canary")
    c.add_argument("--canary-revision", required=True, help="the new revision, e.g. api-00042-xyz")
    c.add_argument("--project", help="Cloud Run project (default --cloud-account-id)")
    c.add_argument("--service", help="Cloud Run service (default --name)")
    c.add_argument("--stable-revision", help="default: the revision serving most traffic")
    c.add_argument("--strategy", choices=("canary", "blue_green", "all_at_once"))
    c.add_argument(
        "--skip-canary",
        action="store_true",
        help="all traffic at once (all_at_once), still checked",
    )
    check_arguments(c)
    compare_arguments(c)
    c.add_argument("--verify-path", help="GET this path on the new revision before any traffic")
    c.add_argument(
        "--canary-timeout",
        type=float,
        metavar="MINUTES",
        help="how long to follow the canary (default: its planned length + 15)",
    )
    c.add_argument("--poll-interval", type=float, default=5.0, metavar="SECONDS")
