"""A canary's checks: lease the canary, read both revisions, decide, apply, record.

Cloud Run is called only when the traffic changes: a check that changes nothing makes
two Monitoring queries and no Cloud Run call. Every automatic traffic change first
compares the service's etag with the one deployq's own last change left; any
difference (or a stale-etag answer from Cloud Run) means someone else changed the
service, and the canary is held instead of clobbering that change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared import clock, logs
from shared.canary import plan
from shared.canary.effects import Effects
from shared.canary.parts import LEASE_SECONDS, Parts, ids, system
from shared.canary.plan import Action, Decision
from shared.canary.records import LeaseLost
from shared.canary.traffic import conflict_reason, split
from shared.canary.verdict import CanaryVerdict, Sample
from shared.canary.verdict import decide as judge
from shared.google.cloud_run import (
    CloudRunError,
    EtagConflict,
    NotFoundError,
    ServiceState,
)
from shared.google.monitoring import MetricPoint, MonitoringError
from shared.models.canary import CanaryStatus, Verdict

LOOKBACK_SECONDS = 180
log = logs.get("canary")


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


def is_due(record: dict[str, Any], number: int | None, now: datetime) -> bool:
    """Whether check `number` (None: the next one) of a canary is due at `now`."""
    if record.get("status") != CanaryStatus.progressing.value or record["step_index"] < 0:
        return False
    if number is not None and record.get("check_count", 0) >= number:
        return False
    return bool(record.get("next_check_at")) and record["next_check_at"] <= clock.to_text(now)


class Checks:
    """Runs checks of progressing canaries; two checks of one canary never run at once."""

    def __init__(self, parts: Parts, effects: Effects):
        self.parts = parts
        self.effects = effects

    def check(
        self,
        org: str,
        canary_id: str,
        number: int | None = None,
        metrics: list[MetricPoint] | None = None,
    ) -> dict[str, Any] | None:
        """Run one due check of a progressing canary; None when there was nothing to do.

        `number` (from a check job) makes a duplicate or late delivery of an
        already-run check harmless.
        """
        now = self.parts.now()
        store = self.parts.store
        taken = store.lease(
            org, canary_id, now, LEASE_SECONDS, accept=lambda r: is_due(r, number, now)
        )
        if taken is None:
            return None
        record, lease = taken
        try:
            return self._check(org, record, lease, now, metrics)
        except BaseException:
            store.release(org, canary_id, lease)
            raise

    def _check(self, org, record, lease, now: datetime, metrics) -> dict[str, Any] | None:
        number = int(record.get("check_count") or 0) + 1
        start = window_start(record, now)
        if start >= now:
            start = now - timedelta(seconds=1)
        figures: dict[str, Sample] = {}
        pending = record.get("pending_action")
        if pending:
            verdict, decision = _redo(record, pending)
        else:
            figures, verdict = self._judge(record, start, now)
            decision = plan.decide(record, now, verdict)
        changes, decision, action = self._apply(record, decision, verdict, now)
        check = _check_entry(record, number, now, start, figures, verdict, decision, action)
        check["traffic_percent"] = changes.get("traffic_percent", record["traffic_percent"])
        changes.update(_check_changes(record, number, now, verdict, bool(pending), changes))
        try:
            after = self.parts.store.commit(
                org, record["id"], lease, changes, check, system(org, self.parts.system_actor)
            )
        except LeaseLost as exc:
            log.warning("%s; its result is dropped", exc, extra={"fields": ids(record)})
            return None
        self.effects.after(org, record, after, now, metrics)
        log.info(
            "canary %s check %d: %s -> %s",
            after["id"],
            number,
            verdict.reason,
            decision.reason,
            extra={"fields": {**ids(after), "verdict": verdict.verdict.value, "action": action}},
        )
        return after

    def _judge(self, record, start: datetime, now: datetime):
        """Both revisions' figures over the window and the verdict on them."""
        figures: dict[str, Sample] = {}
        query_error = None
        try:
            figures = self.parts.monitoring.read_revisions(
                record["project"],
                record["region"],
                record["service"],
                [record["canary_revision"], record["stable_revision"]],
                start,
                now,
            )
        except MonitoringError as exc:
            query_error = exc.message
        from shared.schemas.canary import CompareToStable, Thresholds

        compare = record.get("compare_to_stable")
        verdict = judge(
            Thresholds(**record["thresholds"]),
            figures.get(record["canary_revision"], Sample()),
            figures.get(record["stable_revision"], Sample()),
            CompareToStable(**compare) if compare else None,
            query_error,
        )
        return figures, verdict

    def _apply(
        self, record: dict[str, Any], decision: Decision, verdict: CanaryVerdict, now: datetime
    ) -> tuple[dict[str, Any], Decision, str]:
        """Apply a decision to Cloud Run; returns the record changes, decision, what was done."""
        action = decision.action
        changes: dict[str, Any] = {}
        if action == Action.none:
            return changes, decision, "none"
        if action == Action.hold:
            changes.update(status=decision.status.value, reason=decision.reason)
            return changes, decision, "hold"
        try:
            changes.update(self._move(record, decision, now))
        except EtagConflict as exc:
            reason = conflict_reason(exc.message)
            changes.update(status=CanaryStatus.held.value, reason=reason, pending_action=None)
            return changes, decision, "conflict"
        except NotFoundError as exc:
            reason = f"held: {exc.message} (wanted to {action.value}: {decision.reason})"
            changes.update(status=CanaryStatus.held.value, reason=reason, pending_action=None)
            return changes, decision, "hold"
        except CloudRunError as exc:
            # Retried at the next check: a rollback or promote is not re-decided, it is redone.
            failure = f"Cloud Run update failed ({exc.kind}: {exc.message})"
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

    def _move(self, record: dict[str, Any], decision: Decision, now: datetime) -> dict[str, Any]:
        """The traffic change of an advance, promote or rollback; the record's changes."""
        action = decision.action
        if action == Action.advance:
            state = self._change_traffic(record, decision.traffic_percent, record.get("tag"))
            return {
                "etag": state.etag,
                "traffic_percent": decision.traffic_percent,
                "step_index": decision.step_index,
                "step_started_at": clock.to_text(now),
            }
        if action == Action.promote:
            changes: dict[str, Any] = {"traffic_percent": 100}
            if int(record.get("traffic_percent") or 0) < 100:
                changes["etag"] = self._change_traffic(record, 100, record.get("tag")).etag
            return changes
        keep_tag = None if record["delete_canary_on_rollback"] else record.get("tag")
        return {"etag": self._change_traffic(record, 0, keep_tag).etag, "traffic_percent": 0}

    def _change_traffic(
        self, record: dict[str, Any], percent: int, tag: str | None
    ) -> ServiceState:
        """A traffic change deployq decided alone: refused if anyone else changed the service."""
        run = self.parts.run
        state = run.get_service(record["project"], record["region"], record["service"])
        if record.get("etag") and state.etag != record["etag"]:
            raise EtagConflict(
                f"etag {state.etag} differs from {record['etag']} left by deployq's last change"
            )
        traffic = split(
            state.traffic, record["stable_revision"], record["canary_revision"], percent, tag
        )
        return run.set_traffic(state, traffic)

    def _delete_canary(self, record: dict[str, Any]) -> str | None:
        try:
            self.parts.run.delete_revision(
                record["project"], record["region"], record["service"], record["canary_revision"]
            )
        except Exception as exc:  # noqa: BLE001 - the rollback stands; the revision is left
            log.warning("deleting canary revision failed: %s", exc, extra={"fields": ids(record)})
            return f"canary revision not deleted: {getattr(exc, 'message', exc)}"
        return None


def _redo(record: dict[str, Any], pending: dict[str, Any]) -> tuple[CanaryVerdict, Decision]:
    """The verdict and decision of a promote or rollback whose Cloud Run update failed."""
    verdict = CanaryVerdict(Verdict(pending["verdict"]), pending["reason"])
    decision = Decision(
        Action(pending["action"]),
        pending["reason"],
        100 if pending["action"] == Action.promote.value else 0,
        record["step_index"],
        CanaryStatus(pending["status"]),
    )
    return verdict, decision


def _check_entry(record, number, now, start, figures, verdict, decision, action) -> dict:
    """The check as stored and shown: window, both revisions' figures, verdict, action."""
    canary = figures.get(record["canary_revision"], Sample())
    stable = figures.get(record["stable_revision"], Sample())
    return {
        "number": number,
        "at": clock.to_text(now),
        "window": {"start": clock.to_text(start), "end": clock.to_text(now)},
        **canary.to_dict(),
        "stable": stable.to_dict(),
        "verdict": verdict.verdict.value,
        "reason": verdict.reason,
        "action": action,
        "decision": decision.reason,
    }


def _check_changes(record, number, now, verdict, redone: bool, changes) -> dict[str, Any]:
    """The record's bookkeeping after a check: count, error streak, window, next check."""
    out: dict[str, Any] = {"check_count": number}
    if verdict.query_failed:
        out["consecutive_errors"] = int(record.get("consecutive_errors") or 0) + 1
    elif not redone:
        out["consecutive_errors"] = 0
        out["last_window_end"] = clock.to_text(now)
    status = changes.get("status", record["status"])
    if status == CanaryStatus.progressing.value:
        out["next_check_at"] = clock.to_text(now + timedelta(seconds=record["interval_seconds"]))
    else:
        out["next_check_at"] = None
    return out
