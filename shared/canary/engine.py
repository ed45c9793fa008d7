"""Runs canary rollouts: start, check (lease, read metrics, decide, apply, record), sweep,
and the manual promote / abort.

Cloud Run is called only when the traffic changes: a check that changes nothing makes
two Monitoring queries and no Cloud Run call. Every automatic traffic change first
compares the service's etag with the one deployq's own last change left; any
difference (or a stale-etag answer from Cloud Run) means someone else changed the
service, and the canary is held instead of clobbering that change.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared import clock, logs
from shared.auth import Principal
from shared.canary import plan
from shared.canary.plan import Action, Decision
from shared.canary.verdict import CanaryVerdict, Sample
from shared.canary.verdict import decide as judge
from shared.errors import (
    ApiError,
    BadRequest,
    ConcurrentUpdate,
    Conflict,
    NotFound,
    ServiceUnavailable,
)
from shared.google.cloud_run import (
    CloudRun,
    EtagConflict,
    NotFoundError,
    ServiceState,
    TrafficEntry,
)
from shared.google.monitoring import MetricPoint, Monitoring, MonitoringError
from shared.models.canary import (
    ACTIVE,
    CanaryCreate,
    CanaryStatus,
    CompareToStable,
    Strategy,
    Thresholds,
    Verdict,
    default_strategy,
    transition_error,
)
from shared.models.deployment import Status
from shared.store.canaries import CanaryStore, LeaseLost, service_key
from shared.tasks import task_id

LEASE_SECONDS = 300
LOOKBACK_SECONDS = 180
MANUAL_WAIT_SECONDS = 20
SWEEP_LIMIT = 500
SWEEP_WORKERS = 8
SWEEP_BUDGET_SECONDS = 45
log = logs.get("canary")


def system(org: str) -> Principal:
    """deployq itself, acting on a canary's decision in `org` (events, linked deployments)."""
    return Principal("internal", "deployq-canary", org, "admin", actor="deployq-canary")


def canary_url_from_worker(worker_url: str | None) -> str | None:
    """The canary function's URL, derived from WORKER_URL by naming `canary` instead of `worker`.

    `https://REGION-PROJECT.cloudfunctions.net/[prefix]worker[/tasks/run]` ->
    `https://REGION-PROJECT.cloudfunctions.net/[prefix]canary`;
    `https://[prefix]worker-HASH-uc.a.run.app[/tasks/run]` ->
    `https://[prefix]canary-HASH-uc.a.run.app`. None when the URL names no `worker`
    (then checks run from the every-minute sweep alone).
    """
    if not worker_url:
        return None
    parts = urlsplit(worker_url.rstrip("/"))
    segments = parts.path.split("/")
    for index in range(len(segments) - 1, 0, -1):
        if segments[index].endswith("worker"):
            name = segments[index][: -len("worker")] + "canary"
            path = "/".join([*segments[:index], name])
            return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    host, colon, port = parts.netloc.partition(":")
    first, dot, rest = host.partition(".")
    match = re.match(r"^(.*?)worker(-.*)?$", first)
    if match:
        netloc = f"{match.group(1)}canary{match.group(2) or ''}{dot}{rest}{colon}{port}"
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    return None


def pick_tag(traffic: list[TrafficEntry], revision: str) -> str:
    """The canary revision's tag: the one it has, else `canary` (or a free variant)."""
    for entry in traffic:
        if entry.revision == revision and entry.tag:
            return entry.tag
    taken = {e.tag for e in traffic if e.tag}
    for candidate in ("canary", "deployq-canary"):
        if candidate not in taken:
            return candidate
    return f"canary-{uuid.uuid4().hex[:8]}"


def split(
    current: list[TrafficEntry],
    stable: str,
    canary: str,
    percent: int,
    canary_tag: str | None,
) -> list[TrafficEntry]:
    """The traffic list giving `canary` `percent`% and `stable` the rest.

    Tags of other revisions are kept at 0% (someone else's tags are theirs); the
    stable revision keeps its tag; the canary gets `canary_tag` (None: untagged, so it
    can be deleted).
    """
    stable_tag = next((e.tag for e in current if e.revision == stable and e.tag), "")
    out: list[TrafficEntry] = []
    if percent < 100 or stable_tag:
        out.append(TrafficEntry(stable, 100 - percent, stable_tag))
    if percent > 0 or canary_tag:
        out.append(TrafficEntry(canary, percent, canary_tag or ""))
    used = {stable_tag, canary_tag or ""}
    for entry in current:
        if entry.tag and entry.revision not in (stable, canary) and entry.tag not in used:
            out.append(TrafficEntry(entry.revision, 0, entry.tag))
            used.add(entry.tag)
    return out


def window_start(record: dict[str, Any], now: datetime) -> datetime:
    """Where a check's window starts: never after the previous check, never before the step.

    Cloud Run's metrics can take up to three minutes to become visible, so the window
    reaches back LOOKBACK_SECONDS (or to the end of the last window read, if earlier),
    but not past the start of the current step, so a new step is judged on its own.
    """
    last = clock.parse(record.get("last_window_end") or record["created_at"])
    start = min(last, now - timedelta(seconds=LOOKBACK_SECONDS))
    floor = record.get("step_started_at") or record["created_at"]
    return max(start, min(clock.parse(floor), last))


class CanaryEngine:
    """Everything that happens to a canary, against Cloud Run, Monitoring and Firestore."""

    def __init__(
        self,
        store: CanaryStore,
        run: CloudRun,
        monitoring: Monitoring,
        deployments=None,
        tasks=None,
        check_url: str | None = None,
        now: Callable[[], datetime] = clock.utcnow,
        http=None,
        identity_tokens: bool = False,
    ):
        self.store = store
        self.run = run
        self.monitoring = monitoring
        self.deployments = deployments
        self.tasks = tasks
        self.check_url = check_url.rstrip("/") if check_url else None
        self.now = now
        self._http = http
        self.identity_tokens = identity_tokens

    # -- start --------------------------------------------------------------------

    def start(self, org: str, body: CanaryCreate, principal: Principal) -> dict[str, Any]:
        """Validate against Cloud Run, store, verify, move the first traffic step, schedule."""
        environment = body.environment
        deployment = None
        if body.deployment_id:
            deployment = self._deployments().get(org, body.deployment_id)
            environment = environment or deployment.get("environment")
            if deployment["status"] not in (Status.scheduled.value, Status.in_progress.value):
                raise Conflict(
                    f"deployment {body.deployment_id} is already {deployment['status']}; "
                    "link a scheduled or in-progress deployment",
                    code="invalid_state",
                )
        strategy = body.strategy or default_strategy(environment)
        try:
            state = self.run.get_service(body.project, body.region, body.service)
        except NotFoundError as exc:
            raise NotFound(str(exc)) from None
        if not self.run.revision_exists(
            body.project, body.region, body.service, body.canary_revision
        ):
            raise NotFound(f"revision {body.canary_revision} not found in service {body.service}")
        stable = body.stable_revision or state.largest()
        if body.stable_revision and not self.run.revision_exists(
            body.project, body.region, body.service, body.stable_revision
        ):
            raise NotFound(
                f"stable revision {body.stable_revision} not found in service {body.service}"
            )
        if not stable or stable == body.canary_revision:
            raise BadRequest(
                f"revision {body.canary_revision} already serves the largest share of traffic; "
                "name a different stable_revision",
                details=[{"field": "stable_revision", "error": "same as canary_revision"}],
            )
        now = clock.now_text()
        record = body.model_dump(mode="json")
        record.update(
            id=str(uuid.uuid4()),
            organisation=org,
            status=CanaryStatus.progressing.value,
            strategy=strategy.value,
            stable_revision=stable,
            environment=environment,
            service_key=service_key(body.project, body.region, body.service),
            reason=None,
            traffic_percent=state.percent_of(body.canary_revision),
            step_index=-1,
            step_started_at=None,
            started_at=None,
            ended_at=None,
            check_count=0,
            consecutive_errors=0,
            next_check_at=None,
            last_window_end=None,
            tag=None,
            etag=state.etag,
            lease_token=None,
            lease_until=None,
            pending_action=None,
            deployment_error=None,
            created_by_actor=principal.actor,
            created_at=now,
            updated_at=now,
        )
        self.store.reserve(org, record, principal)
        try:
            if deployment is not None and deployment["status"] == Status.scheduled.value:
                # The rollout is the deployment going live: approvals and freezes apply now.
                self._deployments().set_status(
                    org, deployment["id"], Status.in_progress, principal, None
                )
            return self._begin(org, record, state, principal)
        except ApiError as exc:
            reason = f"not started: {exc.message}"
            self.store.update(org, record["id"], {"status": "failed", "reason": reason[:500]})
            raise
        except Exception as exc:  # noqa: BLE001 - a failed start must not strand the service lock
            reason = f"Cloud Run update failed at start: {getattr(exc, 'message', None) or exc}"
            self.store.update(org, record["id"], {"status": "failed", "reason": reason[:500]})
            mapped = _cloud_run_error(exc, reason)
            if mapped is not None:
                raise mapped from None
            raise

    def _begin(self, org: str, record: dict[str, Any], state: ServiceState, principal) -> dict:
        canary, stable = record["canary_revision"], record["stable_revision"]
        strategy = Strategy(record["strategy"])
        tag = pick_tag(state.traffic, canary)
        try:
            if record.get("verify") or strategy == Strategy.blue_green:
                state = self.run.set_traffic(state, split(state.traffic, stable, canary, 0, tag))
                record = self.store.update(
                    org, record["id"], {"tag": tag, "etag": state.etag}, principal
                )
            if record.get("verify"):
                problem = self._verify(state, tag, record["verify"])
                if problem:
                    record = self.store.update(
                        org,
                        record["id"],
                        {"status": "failed", "reason": problem, "ended_at": clock.now_text()},
                        principal,
                    )
                    self._sync_deployment(org, record, Status.failed, problem)
                    return record
            decision = plan.begin(record)
            state = self.run.set_traffic(
                state, split(state.traffic, stable, canary, decision.traffic_percent, tag)
            )
        except EtagConflict as exc:
            reason = _conflict_reason(str(exc))
            return self.store.update(
                org, record["id"], {"status": "held", "reason": reason}, principal
            )
        now = self.now()
        record = self.store.update(
            org,
            record["id"],
            {
                "tag": tag,
                "etag": state.etag,
                "traffic_percent": decision.traffic_percent,
                "step_index": decision.step_index,
                "started_at": clock.to_text(now),
                "step_started_at": clock.to_text(now),
                "next_check_at": clock.to_text(now + timedelta(seconds=record["interval_seconds"])),
            },
            principal,
        )
        self.monitoring.write(
            [
                self._point("canary_rollouts_started", 1, record, now),
                self._point("canary_traffic_percent", decision.traffic_percent, record, now),
            ]
        )
        self._schedule(org, record)
        log.info(
            "canary %s started: %s", record["id"], decision.reason, extra={"fields": _ids(record)}
        )
        return record

    def _verify(self, state: ServiceState, tag: str, verify: dict[str, Any]) -> str | None:
        """None when GET <tag URL><path> answers 2xx in time, else the one-line reason."""
        import requests

        base = state.tag_urls.get(tag)
        if not base:
            return f"verification failed: Cloud Run reported no URL for tag {tag}"
        url = base.rstrip("/") + verify["path"]
        timeout = float(verify["timeout_seconds"])
        headers = {"User-Agent": "deployq-canary-verify"}
        token = self._identity_token(base)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = (self._http or requests).get(
                url, timeout=timeout, allow_redirects=False, headers=headers
            )
        except requests.Timeout:
            return f"verification failed: GET {url} timed out after {timeout:g} s"
        except requests.RequestException as exc:
            return f"verification failed: GET {url} could not connect: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        body = " ".join(response.text[:200].split())
        return f"verification failed: GET {url} answered HTTP {response.status_code}: {body}"

    def _identity_token(self, audience: str) -> str | None:
        if not self.identity_tokens:
            return None
        try:
            import google.auth.transport.requests
            from google.oauth2 import id_token

            return id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
        except Exception as exc:  # noqa: BLE001 - an unauthenticated GET is still a fair probe
            log.warning("no identity token for %s: %s", audience, exc)
            return None

    # -- checks -------------------------------------------------------------------

    def check(
        self,
        org: str,
        canary_id: str,
        number: int | None = None,
        metrics: list[MetricPoint] | None = None,
    ) -> dict[str, Any] | None:
        """Run one due check of a progressing canary; None when there was nothing to do.

        `number` (from a Cloud Task) makes a duplicate or late delivery of an
        already-run check harmless. Two checks of one canary never run at once.
        """
        now = self.now()

        def due(record: dict[str, Any]) -> bool:
            if record.get("status") != CanaryStatus.progressing.value or record["step_index"] < 0:
                return False
            if number is not None and record.get("check_count", 0) >= number:
                return False
            return bool(record.get("next_check_at")) and record["next_check_at"] <= clock.to_text(
                now
            )

        taken = self.store.lease(org, canary_id, now, LEASE_SECONDS, accept=due)
        if taken is None:
            return None
        record, token = taken
        try:
            return self._check(org, record, token, now, metrics)
        except BaseException:
            self.store.release(org, canary_id, token)
            raise

    def _check(self, org, record, token, now: datetime, metrics) -> dict[str, Any] | None:
        number = int(record.get("check_count") or 0) + 1
        start = window_start(record, now)
        if start >= now:
            start = now - timedelta(seconds=1)
        pending = record.get("pending_action")
        figures: dict[str, Sample] = {}
        if pending:
            verdict = CanaryVerdict(Verdict(pending["verdict"]), pending["reason"])
            decision = Decision(
                Action(pending["action"]),
                pending["reason"],
                100 if pending["action"] == Action.promote.value else 0,
                record["step_index"],
                CanaryStatus(pending["status"]),
            )
        else:
            query_error = None
            try:
                figures = self.monitoring.read_revisions(
                    record["project"],
                    record["region"],
                    record["service"],
                    [record["canary_revision"], record["stable_revision"]],
                    start,
                    now,
                )
            except MonitoringError as exc:
                query_error = str(exc)
            verdict = judge(
                Thresholds(**record["thresholds"]),
                figures.get(record["canary_revision"], Sample()),
                figures.get(record["stable_revision"], Sample()),
                CompareToStable(**record["compare_to_stable"])
                if record.get("compare_to_stable")
                else None,
                query_error,
            )
            decision = plan.decide(record, now, verdict)
        changes, decision, action = self._apply(record, decision, verdict, now)
        canary = figures.get(record["canary_revision"], Sample())
        stable = figures.get(record["stable_revision"], Sample())
        check = {
            "number": number,
            "at": clock.to_text(now),
            "window": {"start": clock.to_text(start), "end": clock.to_text(now)},
            **canary.to_dict(),
            "stable": stable.to_dict(),
            "verdict": verdict.verdict.value,
            "reason": verdict.reason,
            "action": action,
            "decision": decision.reason,
            "traffic_percent": changes.get("traffic_percent", record["traffic_percent"]),
        }
        changes["check_count"] = number
        if verdict.query_failed:
            changes["consecutive_errors"] = int(record.get("consecutive_errors") or 0) + 1
        elif not pending:
            changes["consecutive_errors"] = 0
            changes["last_window_end"] = clock.to_text(now)
        status = changes.get("status", record["status"])
        if status == CanaryStatus.progressing.value:
            changes["next_check_at"] = clock.to_text(
                now + timedelta(seconds=record["interval_seconds"])
            )
        else:
            changes["next_check_at"] = None
        try:
            after = self.store.commit(org, record["id"], token, changes, check, system(org))
        except LeaseLost as exc:
            log.warning("%s; its result is dropped", exc, extra={"fields": _ids(record)})
            return None
        self._after(org, record, after, now, metrics)
        log.info(
            "canary %s check %d: %s -> %s",
            after["id"],
            number,
            verdict.reason,
            decision.reason,
            extra={"fields": {**_ids(after), "verdict": verdict.verdict.value, "action": action}},
        )
        return after

    def _apply(
        self, record: dict[str, Any], decision: Decision, verdict: CanaryVerdict, now: datetime
    ) -> tuple[dict[str, Any], Decision, str]:
        """Apply a decision to Cloud Run; returns the record changes, decision, what was done."""
        from google.api_core import exceptions as gexc

        action = decision.action
        changes: dict[str, Any] = {}
        if action == Action.none:
            return changes, decision, "none"
        if action == Action.hold:
            changes.update(status=decision.status.value, reason=decision.reason)
            return changes, decision, "hold"
        try:
            if action == Action.advance:
                state = self._change_traffic(record, decision.traffic_percent, record.get("tag"))
                changes.update(
                    etag=state.etag,
                    traffic_percent=decision.traffic_percent,
                    step_index=decision.step_index,
                    step_started_at=clock.to_text(now),
                )
            elif action == Action.promote:
                if int(record.get("traffic_percent") or 0) < 100:
                    state = self._change_traffic(record, 100, record.get("tag"))
                    changes["etag"] = state.etag
                changes.update(traffic_percent=100)
            elif action == Action.rollback:
                keep_tag = None if record["delete_canary_on_rollback"] else record.get("tag")
                state = self._change_traffic(record, 0, keep_tag)
                changes.update(etag=state.etag, traffic_percent=0)
        except EtagConflict as exc:
            reason = _conflict_reason(str(exc))
            changes.update(status=CanaryStatus.held.value, reason=reason, pending_action=None)
            return changes, decision, "conflict"
        except NotFoundError as exc:
            reason = f"held: {exc} (wanted to {action.value}: {decision.reason})"
            changes.update(status=CanaryStatus.held.value, reason=reason, pending_action=None)
            return changes, decision, "hold"
        except gexc.GoogleAPIError as exc:
            # Retried at the next check: a rollback or promote is not re-decided, it is redone.
            failure = (
                f"Cloud Run update failed ({type(exc).__name__}: {getattr(exc, 'message', exc)})"
            )
            if action in (Action.rollback, Action.promote):
                changes["pending_action"] = {
                    "action": action.value,
                    "status": decision.status.value,
                    "reason": decision.reason,
                    "verdict": verdict.verdict.value,
                }
            return changes, decision, f"error: {failure}; retrying at the next check"
        changes["pending_action"] = None
        if action in (Action.promote, Action.rollback):
            changes.update(
                status=decision.status.value, reason=decision.reason, ended_at=clock.now_text()
            )
            if action == Action.rollback and record["delete_canary_on_rollback"]:
                problem = self._delete_canary(record)
                if problem:
                    changes["reason"] = f"{decision.reason} ({problem})"
        return changes, decision, action.value

    def _change_traffic(
        self, record: dict[str, Any], percent: int, tag: str | None
    ) -> ServiceState:
        """A traffic change deployq decided alone: refused if anyone else changed the service."""
        state = self.run.get_service(record["project"], record["region"], record["service"])
        if record.get("etag") and state.etag != record["etag"]:
            raise EtagConflict(
                f"etag {state.etag} differs from {record['etag']} left by deployq's last change"
            )
        traffic = split(
            state.traffic, record["stable_revision"], record["canary_revision"], percent, tag
        )
        return self.run.set_traffic(state, traffic)

    def _delete_canary(self, record: dict[str, Any]) -> str | None:
        try:
            self.run.delete_revision(
                record["project"], record["region"], record["service"], record["canary_revision"]
            )
        except Exception as exc:  # noqa: BLE001 - the rollback stands; the revision is left
            log.warning("deleting canary revision failed: %s", exc, extra={"fields": _ids(record)})
            return f"canary revision not deleted: {getattr(exc, 'message', exc)}"
        return None

    def _after(self, org, before, after, now: datetime, metrics: list | None) -> None:
        """Side effects once a change is committed: deployment status, metrics, next task."""
        points = []
        if after["traffic_percent"] != before["traffic_percent"]:
            points.append(
                self._point("canary_traffic_percent", after["traffic_percent"], after, now)
            )
        status = CanaryStatus(after["status"])
        if status != CanaryStatus(before["status"]):
            points += self._end_points(after, now)
            if status == CanaryStatus.promoted:
                self._sync_deployment(org, after, Status.deployed, after["reason"])
            elif status in (CanaryStatus.rolled_back, CanaryStatus.aborted, CanaryStatus.failed):
                self._sync_deployment(org, after, Status.failed, after["reason"])
        if metrics is not None:
            metrics.extend(points)
        else:
            self.monitoring.write(points)
        if status == CanaryStatus.progressing:
            self._schedule(org, after)

    def _end_points(self, record: dict[str, Any], now: datetime) -> list[MetricPoint]:
        status = CanaryStatus(record["status"])
        points = []
        name = {
            CanaryStatus.promoted: "canary_rollouts_succeeded",
            CanaryStatus.rolled_back: "canary_rollouts_rolled_back",
            CanaryStatus.aborted: "canary_rollouts_rolled_back",
        }.get(status)
        if name:
            points.append(self._point(name, 1, record, now))
        if status in (CanaryStatus.promoted, CanaryStatus.rolled_back, CanaryStatus.aborted):
            started = clock.parse(record.get("started_at") or record["created_at"])
            duration = max((now - started).total_seconds(), 0.0)
            points.append(self._point("canary_duration", float(duration), record, now))
        return points

    def _point(self, name, value, record, now: datetime) -> MetricPoint:
        """A point labelled as Terraform declares the deployq metrics (monitoring.tf)."""
        labels = {
            "organisation": record.get("organisation") or "",
            "service": record["service"],
            "environment": record.get("environment") or "",
        }
        return MetricPoint(name, value, labels, now)

    def _sync_deployment(
        self, org: str, record: dict[str, Any], status: Status, reason: str
    ) -> None:
        """Mark the linked deployment; a failure is recorded on the canary, never raised.

        A refusal (approval, transition) stands; a failure of the moment (Firestore
        unavailable, contention) leaves `deployment_sync_pending` for the sweep to retry.
        """
        if not record.get("deployment_id"):
            return
        principal = system(org)
        note = f"canary {record['id']} {record['status']}: {reason}"
        try:
            existing = self._deployments().get(org, record["deployment_id"]).get("notes")
            notes = existing or ""
            if note not in notes:  # a retry after a lost answer adds nothing twice
                notes = f"{existing}\n{note}" if existing else note  # the team's notes stay
            self._deployments().set_status(
                org, record["deployment_id"], status, principal, notes[-10_000:]
            )
        except Exception as exc:  # noqa: BLE001 - the rollout outcome stands either way
            message = getattr(exc, "message", None) or str(exc)
            log.warning(
                "linked deployment not updated: %s", message, extra={"fields": _ids(record)}
            )
            refused = isinstance(exc, ApiError) and exc.status < 500
            refused = refused and not isinstance(exc, ConcurrentUpdate)
            self.store.update(
                org,
                record["id"],
                {
                    "deployment_error": message[:500],
                    "deployment_sync_pending": not refused,
                    "deployment_sync_status": status.value,
                    "deployment_sync_reason": reason[:500],
                },
            )
            return
        if record.get("deployment_sync_pending") or record.get("deployment_error"):
            self.store.update(
                org, record["id"], {"deployment_sync_pending": False, "deployment_error": None}
            )

    def retry_deployment_syncs(self, limit: int = SWEEP_LIMIT) -> int:
        """Retry linked-deployment updates that failed for a passing reason; how many tried."""
        tried = 0
        for record in self.store.sync_pending(limit):
            tried += 1
            self._sync_deployment(
                record["organisation"],
                record,
                Status(record["deployment_sync_status"]),
                record.get("deployment_sync_reason") or "",
            )
        return tried

    def _deployments(self):
        if self.deployments is None:
            raise NotFound("linked deployments are not available")
        return self.deployments

    def _schedule(self, org: str, record: dict[str, Any]) -> None:
        """A named Cloud Task for the next check (the sweep covers a lost or failed one)."""
        if self.tasks is None or self.check_url is None or not record.get("next_check_at"):
            return
        number = int(record.get("check_count") or 0) + 1
        try:
            self.tasks.enqueue(
                task_id(record["id"], "check", str(number)),
                f"{self.check_url}/v1/canaries/{record['id']}:check",
                {"organisation": org, "check": number},
                schedule_time=clock.parse(record["next_check_at"]),
                audience=self.check_url,
            )
        except Exception as exc:  # noqa: BLE001 - the sweep runs the check anyway
            log.warning(
                "enqueueing check %d failed: %s", number, exc, extra={"fields": _ids(record)}
            )

    # -- sweep --------------------------------------------------------------------

    def sweep(self, budget_seconds: float = SWEEP_BUDGET_SECONDS) -> int:
        """Run every overdue check (several at once); returns how many canaries were checked.

        Overdue canaries are fetched in pages of SWEEP_LIMIT until none is left or the
        time budget (under Cloud Scheduler's deadline) is spent.
        """
        started = time.monotonic()
        metrics: list[MetricPoint] = []
        lock = threading.Lock()
        checked = 0
        tried: set[tuple[str, str]] = set()

        def one(item: tuple[str, str]) -> None:
            nonlocal checked
            org, canary_id = item
            found: list[MetricPoint] = []
            try:
                result = self.check(org, canary_id, metrics=found)
            except Exception:  # noqa: BLE001 - one canary's failure never stops the sweep
                log.exception("check of canary %s failed", canary_id)
                return
            with lock:
                metrics.extend(found)
                checked += result is not None

        with ThreadPoolExecutor(max_workers=SWEEP_WORKERS) as pool:
            while time.monotonic() - started < budget_seconds:
                due = [
                    item for item in self.store.due(self.now(), SWEEP_LIMIT) if item not in tried
                ]
                if not due:
                    break
                tried.update(due)
                list(pool.map(one, due))
        self.monitoring.write(metrics)
        try:
            self.retry_deployment_syncs()
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.exception("retrying linked deployment updates failed")
        return checked

    # -- manual promote / abort ---------------------------------------------------

    def promote(self, org: str, canary_id: str, principal: Principal) -> dict[str, Any]:
        """100% to the canary now; the linked deployment becomes deployed."""
        return self._manual(org, canary_id, principal, CanaryStatus.promoted)

    def abort(self, org: str, canary_id: str, principal: Principal) -> dict[str, Any]:
        """100% to the stable revision now; the linked deployment becomes failed."""
        return self._manual(org, canary_id, principal, CanaryStatus.aborted)

    def _manual(self, org, canary_id, principal: Principal, target: CanaryStatus) -> dict[str, Any]:
        record = self.store.get(org, canary_id)
        if record["status"] == target.value:
            return record
        taken = self.store.lease_waiting(
            org,
            canary_id,
            LEASE_SECONDS,
            MANUAL_WAIT_SECONDS,
            accept=lambda r: CanaryStatus(r["status"]) in ACTIVE,
        )
        if taken is None:
            record = self.store.get(org, canary_id)
            if record["status"] == target.value:
                return record
            raise Conflict(
                transition_error(CanaryStatus(record["status"]), target) or "not allowed",
                code="invalid_transition",
            )
        record, token = taken
        now = self.now()
        try:
            percent = 100 if target == CanaryStatus.promoted else 0
            changes: dict[str, Any] = {"traffic_percent": percent}
            if record["step_index"] >= 0 or record.get("tag") or target == CanaryStatus.promoted:
                # A person decided: act on the service as it is now (fresh etag).
                state = self.run.get_service(record["project"], record["region"], record["service"])
                traffic = split(
                    state.traffic,
                    record["stable_revision"],
                    record["canary_revision"],
                    percent,
                    record.get("tag"),
                )
                if not _same_traffic(state.traffic, traffic):
                    state = self.run.set_traffic(state, traffic)
                changes["etag"] = state.etag
        except NotFoundError as exc:
            if target == CanaryStatus.promoted:
                self.store.release(org, canary_id, token)
                raise Conflict(f"cannot promote: {exc}", code="service_not_found") from None
            changes = {"traffic_percent": 0}  # nothing left to send traffic to: just end it
        except EtagConflict as exc:
            self.store.release(org, canary_id, token)
            raise Conflict(
                f"{_conflict_reason(str(exc))}; retry", code="concurrent_update"
            ) from None
        except BaseException as exc:
            self.store.release(org, canary_id, token)
            mapped = _cloud_run_error(exc, f"Cloud Run refused the {target.value} change")
            if mapped is not None:
                raise mapped from None
            raise
        verb = "promoted" if target == CanaryStatus.promoted else "aborted"
        changes.update(
            status=target.value,
            reason=f"{verb} by {principal.actor or principal.subject}",
            ended_at=clock.to_text(now),
            next_check_at=None,
            pending_action=None,
        )
        after = self.store.commit(org, canary_id, token, changes, principal=principal)
        self._after(org, record, after, now, None)
        log.info("canary %s %s", canary_id, changes["reason"], extra={"fields": _ids(after)})
        return after


def _cloud_run_error(exc: BaseException, what: str) -> ApiError | None:
    """A Google error as the caller should see it: 503 when retrying may help, else 409."""
    from google.api_core import exceptions as gexc

    if not isinstance(exc, gexc.GoogleAPIError):
        return None
    detail = getattr(exc, "message", None) or str(exc)
    retryable = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError, gexc.Aborted)
    if isinstance(exc, retryable):
        return ServiceUnavailable(f"{what}: {detail}; retry")
    return Conflict(f"{what}: {detail}", code="cloud_run_error")


def _same_traffic(current: list[TrafficEntry], wanted: list[TrafficEntry]) -> bool:
    return sorted((e.revision, e.percent, e.tag) for e in current) == sorted(
        (e.revision, e.percent, e.tag) for e in wanted
    )


def _conflict_reason(detail: str) -> str:
    return (
        "conflict: the service was changed by someone else (stale etag: "
        f"{detail[:200]}); deployq will not touch it until someone promotes or aborts"
    )


def _ids(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "canary_id": record.get("id"),
        "organisation": record.get("organisation"),
        "service": record.get("service"),
    }
