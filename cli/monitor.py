"""`deployq canary monitor`: the canary decision loop run from a terminal or a workflow step,
against Cloud Run and Cloud Monitoring directly, without the deployq stack deployed.

It judges each check with the service's own decision code (`shared.canary.verdict.decide`
and `shared.canary.plan.decide`), reads figures through the same Monitoring adapter (two
queries per check, canary and stable together) and changes traffic through the same Cloud
Run adapter, with the etag it read: exit 0 promoted, 1 rolled back (or held, or no
verdict), 4 service or revision not found, 5 someone else changed the service meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.errors import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, AuthError, CliError, UsageError
from cli.runtime import Runtime


def run(rt: Runtime) -> int:
    """Build the adapters from the environment (MONITORING_API_ENDPOINT, CLOUD_RUN_API_ENDPOINT:
    a local fake; unset: Google with Application Default Credentials) and watch the canary."""
    from pydantic import ValidationError

    from shared.config import ConfigError, Settings
    from shared.google.cloud_run import CloudRun
    from shared.google.monitoring import Monitoring
    from shared.schemas.canary import CompareToStable, Thresholds

    a = rt.args
    if a.duration <= 0:
        raise UsageError("--duration must be a positive number of minutes")
    if a.interval < 1:
        raise UsageError("--interval must be at least 1 second")
    if a.traffic_percent is not None and not 1 <= a.traffic_percent <= 99:
        raise UsageError("--traffic-percent must be 1..99")
    try:
        thresholds = Thresholds(
            max_error_rate_pct=a.error_rate_threshold,
            max_p95_ms=a.latency_threshold,
            max_p99_ms=a.p99_threshold,
            min_requests=a.min_requests,
        )
        compare = None
        if a.compare_error_margin_pct is not None or a.compare_p99_margin_pct is not None:
            compare = CompareToStable(
                error_rate_margin_pct=a.compare_error_margin_pct,
                p99_margin_pct=a.compare_p99_margin_pct,
            )
        settings = Settings.from_env(rt.env)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"invalid threshold {first['loc'][0]}: {first['msg']}") from None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    monitor = CanaryMonitor(rt, CloudRun(settings), Monitoring(settings), thresholds, compare)
    return monitor.run()


class CanaryMonitor:
    """One canary watched from here: checks every interval for the duration, then decides."""

    def __init__(
        self,
        rt: Runtime,
        cloud_run,
        monitoring,
        thresholds,
        compare,
        now: Callable[[], datetime] | None = None,
    ):
        self.rt = rt
        self.a = rt.args
        self.cloud_run = cloud_run
        self.monitoring = monitoring
        self.thresholds = thresholds
        self.compare = compare
        self.now = now or (lambda: datetime.now(UTC))
        self.checks: list[dict[str, Any]] = []

    def run(self) -> int:
        try:
            return self._run()
        except CliError:
            raise
        except Exception as exc:  # noqa: BLE001 - Google errors become one line and an exit code
            raise _google_failure(exc) from None

    def _run(self) -> int:
        from shared.canary import plan

        a = self.a
        stable, percent = self._prepare()
        started = self.now()
        record = self._record(percent, started)
        self.rt.progress(
            f"monitoring {a.revision} ({percent}% of traffic) against {stable} for "
            f"{a.duration:g} min, a check every {a.interval:g} s: error rate > "
            f"{self.thresholds.max_error_rate_pct:g}%, p95 > {self.thresholds.max_p95_ms:g} ms or "
            f"p99 > {self.thresholds.max_p99_ms:g} ms rolls back; at least "
            f"{self.thresholds.min_requests} requests per check"
        )
        window_start, next_check = started, started
        while True:
            next_check += timedelta(seconds=a.interval)
            wait = (next_check - self.now()).total_seconds()
            if wait > 0:
                self.rt.sleep(wait)
            at = self.now()
            verdict, decision = self._check(record, stable, window_start, at)
            if verdict.query_failed:
                record["consecutive_errors"] += 1
            else:
                record["consecutive_errors"] = 0
                window_start = at
            if decision.action == plan.Action.promote:
                return self._finish("promoted", decision.reason, stable, 100)
            if decision.action == plan.Action.rollback:
                return self._finish("rolled_back", decision.reason, stable, 0)
            if decision.action == plan.Action.hold:
                return self._finish("held", decision.reason, stable, None)

    def _prepare(self) -> tuple[str, int]:
        """Check the service and revisions, set the canary's traffic if asked; (stable
        revision, the canary's share of traffic)."""
        from shared.google.cloud_run import NotFoundError

        a = self.a
        try:
            state = self.cloud_run.get_service(a.project_id, a.region, a.service)
        except NotFoundError as exc:
            raise CliError(str(exc), EXIT_NOT_FOUND) from None
        for revision in filter(None, (a.revision, a.stable_revision)):
            if not self.cloud_run.revision_exists(a.project_id, a.region, a.service, revision):
                raise CliError(f"revision {revision} of {a.service} not found", EXIT_NOT_FOUND)
        stable = a.stable_revision or self._stable_of(state)
        if stable == a.revision:
            raise UsageError("the stable revision and the canary revision are the same")
        self.tag = next((t.tag for t in state.traffic if t.revision == a.revision and t.tag), None)
        if a.traffic_percent is not None:
            state = self._set_traffic(state, stable, a.traffic_percent, self.tag)
            self.rt.progress(f"{a.revision} now serves {a.traffic_percent}% of traffic")
        self.etag = state.etag
        percent = state.percent_of(a.revision)
        if percent == 0:
            self.rt.progress(
                f"warning: {a.revision} serves 0% of traffic; it cannot reach "
                f"--min-requests (use --traffic-percent)"
            )
        return stable, percent

    def _record(self, percent: int, started) -> dict[str, Any]:
        """The canary record the plan decides over: one step at the current share."""
        from shared import clock

        a = self.a
        return {
            "status": "progressing",
            "strategy": "canary",
            "steps": [percent],
            "step_minutes": a.duration,
            "started_at": clock.to_text(started),
            "step_started_at": clock.to_text(started),
            "traffic_percent": percent,
            "step_index": 0,
            "on_no_data": a.on_no_data,
            "consecutive_errors": 0,
            "consecutive_error_limit": a.consecutive_error_limit,
        }

    def _check(self, record: dict[str, Any], stable: str, window_start, at):
        """One check of the window: read both revisions, judge, decide; (verdict, decision)."""
        from shared import clock
        from shared.canary import plan
        from shared.canary.verdict import decide as judge
        from shared.google.monitoring import MonitoringError
        from shared.models.canary import Sample

        a = self.a
        query_error, figures = None, {}
        try:
            figures = self.monitoring.read_revisions(
                a.project_id, a.region, a.service, [a.revision, stable], window_start, at
            )
        except MonitoringError as exc:
            query_error = str(exc)
        canary, baseline = figures.get(a.revision, Sample()), figures.get(stable, Sample())
        verdict = judge(self.thresholds, canary, baseline, self.compare, query_error)
        decision = plan.decide(record, at, verdict)
        self.checks.append(
            {
                "number": len(self.checks) + 1,
                "at": clock.to_text(at),
                "window": {"start": clock.to_text(window_start), "end": clock.to_text(at)},
                **canary.to_dict(),
                "stable": baseline.to_dict(),
                "verdict": verdict.verdict.value,
                "reason": verdict.reason,
                "decision": decision.reason,
            }
        )
        self.rt.progress(
            f"check {len(self.checks)}: {verdict.verdict.value}: "
            f"{verdict.reason} -> {decision.action.value}"
        )
        return verdict, decision

    def _stable_of(self, state) -> str:
        shares: dict[str, int] = {}
        for entry in state.traffic:
            if entry.revision != self.a.revision and entry.percent > 0:
                shares[entry.revision] = shares.get(entry.revision, 0) + entry.percent
        if not shares:
            raise UsageError(
                f"no other revision of {self.a.service} serves traffic; "
                "name it with --stable-revision"
            )
        return max(shares, key=lambda r: shares[r])

    def _set_traffic(self, state, stable: str, percent: int, tag: str | None):
        from shared.canary.traffic import split
        from shared.google.cloud_run import EtagConflict

        try:
            return self.cloud_run.set_traffic(
                state, split(state.traffic, stable, self.a.revision, percent, tag)
            )
        except EtagConflict as exc:
            raise CliError(
                f"conflict: {self.a.service} changed while deployq updated it "
                f"(stale etag: {exc}); nothing was changed",
                EXIT_CONFLICT,
            ) from None

    def _finish(self, result: str, reason: str, stable: str, percent: int | None) -> int:
        a = self.a
        note = None
        act = percent is not None and not (
            (result == "promoted" and a.no_promote) or (result == "rolled_back" and a.no_rollback)
        )
        if act:
            state = self.cloud_run.get_service(a.project_id, a.region, a.service)
            if state.etag != self.etag:
                raise CliError(
                    f"conflict: {a.service} was changed by someone else while it was monitored "
                    f"(etag {state.etag}, not {self.etag}); deployq leaves it as it is. "
                    f"Verdict was: {result} ({reason})",
                    EXIT_CONFLICT,
                )
            delete = result == "rolled_back" and not a.keep_canary_on_rollback
            self._set_traffic(state, stable, percent, None if delete else self.tag)
            if delete:
                try:
                    self.cloud_run.delete_revision(a.project_id, a.region, a.service, a.revision)
                except Exception as exc:  # noqa: BLE001 - the rollback stands
                    note = f"canary revision not deleted: {getattr(exc, 'message', exc)}"
        elif percent is not None:
            note = "traffic left as it is (--no-promote/--no-rollback)"
        summary = {
            "result": result,
            "reason": reason,
            "project": a.project_id,
            "region": a.region,
            "service": a.service,
            "canary_revision": a.revision,
            "stable_revision": stable,
            "traffic_changed": act,
            "note": note,
            "checks": self.checks,
        }
        self.rt.emit(
            summary,
            lambda s: self.rt.say(f"{s['result']}: {s['reason']}" + (f" ({note})" if note else "")),
        )
        return 0 if result == "promoted" else EXIT_FAILURE


def _google_failure(exc: Exception) -> CliError:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return AuthError(
            f"no Google credentials: run `gcloud auth application-default login` ({exc})"
        )
    if isinstance(exc, (gexc.PermissionDenied, gexc.Unauthenticated)):
        return AuthError(f"Google refused the call: {exc.message}")
    if isinstance(exc, gexc.GoogleAPIError):
        return CliError(f"Google API error: {getattr(exc, 'message', exc)}")
    return CliError(f"{type(exc).__name__}: {exc}")
