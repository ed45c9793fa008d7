"""The Four Keys (DORA) computations: pure functions of deployment outcomes and a clock.

Definitions (contract/governance.md):
- a deployment counts when it became `deployed` (also when later `rolled_back`);
- lead time = deployed time - commit time (when the commit time is known);
- change failure rate = (failed + rolled_back) / (deployed + failed + rolled_back), by
  current status; skipped, scheduled and in-progress ones are not finished;
- time to restore = from a failure to the next `deployed` of the same taxonomy.

Outcomes are kept per deployment id (`Outcome`), so applying one event twice or out of
order gives the same figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import clock

DAY = 86400.0
RANK = {"deployed": 1, "failed": 1, "rolled_back": 2}
FINISHED = tuple(RANK)
MAX_DEPLOYS_KEPT = 50
MAX_FAILURES_KEPT = 200


@dataclass(frozen=True)
class Outcome:
    """Where a deployment ended up, as DORA counts it."""

    id: str
    status: str  # deployed | failed | rolled_back
    at: datetime  # when it became deployed (deployed, rolled_back) or failed
    lead_seconds: float | None = None


@dataclass(frozen=True)
class Restore:
    failure_id: str
    failed_at: datetime
    seconds: float


def outcome_of(record: dict[str, Any]) -> Outcome | None:
    """The DORA outcome of a deployment record, None while it has none."""
    status = record.get("status")
    if status not in RANK:
        return None
    if status == "failed":
        at_text = record.get("status_changed_at") or record.get("updated_at")
    else:
        at_text = record.get("deployed_at") or record.get("status_changed_at")
    if not at_text:
        return None
    at = clock.parse(at_text)
    lead = None
    if status != "failed" and record.get("commit_timestamp"):
        lead = max(0.0, (at - clock.parse(record["commit_timestamp"])).total_seconds())
    return Outcome(record["id"], status, at, lead)


# -- time to restore bookkeeping (per taxonomy) ---------------------------------------


def track_restores(
    state: dict[str, Any], outcome: Outcome, labels: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], Restore]]]:
    """Update a taxonomy's failures/deploys with an outcome; returns (state, new restore samples).

    `state` = {"failures": {id: {at, restored_at, environment, name}}, "deploys": {id: at}}.
    Each sample comes with the failed deployment's labels (environment, name).
    """
    failures = dict(state.get("failures") or {})
    deploys = dict(state.get("deploys") or {})
    samples: list[tuple[dict[str, Any], Restore]] = []
    at_text = clock.to_text(outcome.at)
    if outcome.status == "failed":
        later = sorted(t for t in deploys.values() if t > at_text)
        restored = later[0] if later else None
        failures[outcome.id] = {"at": at_text, "restored_at": restored, **labels}
        if restored:
            samples.append((labels, _restore(outcome.id, at_text, restored)))
    elif outcome.status == "deployed":
        deploys[outcome.id] = at_text
        for failure_id, failure in failures.items():
            if failure["at"] < at_text and (
                failure["restored_at"] is None or at_text < failure["restored_at"]
            ):
                failure = dict(failure, restored_at=at_text)
                failures[failure_id] = failure
                failure_labels = {k: failure.get(k) for k in ("environment", "name")}
                samples.append((failure_labels, _restore(failure_id, failure["at"], at_text)))
    if len(deploys) > MAX_DEPLOYS_KEPT:
        deploys = dict(sorted(deploys.items(), key=lambda kv: kv[1])[-MAX_DEPLOYS_KEPT:])
    if len(failures) > MAX_FAILURES_KEPT:
        newest = sorted(failures.items(), key=lambda kv: kv[1]["at"])[-MAX_FAILURES_KEPT:]
        failures = dict(newest)
    return {"failures": failures, "deploys": deploys}, samples


def _restore(failure_id: str, failed_at: str, restored_at: str) -> Restore:
    start, end = clock.parse(failed_at), clock.parse(restored_at)
    return Restore(failure_id, start, (end - start).total_seconds())


# -- figures ------------------------------------------------------------------------


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(statistics.median(values)) if values else None


def duration_bucket(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    hours = seconds / 3600
    if hours < 24:
        return "One day"
    if hours < 168:
        return "One week"
    if hours < 730:
        return "One month"
    if hours < 4380:
        return "Six months"
    return "One year"


def failure_bucket(rate: float | None) -> str | None:
    if rate is None:
        return None
    if rate <= 0.15:
        return "0-15%"
    if rate < 0.46:
        return "16-45%"
    return "46-60%"


def frequency_bucket(deployed_at: list[datetime], now: datetime, days: int) -> str:
    """Four Keys: Daily if the median week has deploys on >= 3 days, Weekly, Monthly, Yearly."""
    window = min(days, 7)
    weeks = max(1, days // 7)
    week_days: list[int] = []
    week_counts: list[int] = []
    for week in range(weeks):
        end = now - timedelta(days=7 * week)
        start = end - timedelta(days=window)
        inside = [t for t in deployed_at if start < t <= end]
        week_counts.append(len(inside))
        week_days.append(len({int((now - t).total_seconds() // DAY) for t in inside}))
    if median(week_days) >= 3:
        return "Daily"
    if median(week_counts) >= 1:
        return "Weekly"
    months = max(1, days // 30)
    month_counts = []
    for month in range(months):
        end = now - timedelta(days=30 * month)
        start = end - timedelta(days=min(days, 30))
        month_counts.append(sum(1 for t in deployed_at if start < t <= end))
    if median(month_counts) >= 1:
        return "Monthly"
    return "Yearly"


def in_window(moment: datetime, now: datetime, days: int) -> bool:
    return now - timedelta(days=days) <= moment <= now


def metrics(
    outcomes: Iterable[Outcome],
    restores: Iterable[Restore],
    now: datetime,
    days: int,
    environment: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The four keys over the outcomes and restores of the last `days` days."""
    outcomes = [o for o in outcomes if in_window(o.at, now, days)]
    restores = [r for r in restores if in_window(r.failed_at, now, days)]
    deployed_at = [o.at for o in outcomes if o.status in ("deployed", "rolled_back")]
    failed = sum(1 for o in outcomes if o.status == "failed")
    rolled_back = sum(1 for o in outcomes if o.status == "rolled_back")
    finished = len(outcomes)
    rate = round((failed + rolled_back) / finished, 4) if finished else None
    lead = median(
        o.lead_seconds for o in outcomes if o.lead_seconds is not None and o.status != "failed"
    )
    restore = median(r.seconds for r in restores)
    return {
        "days": days,
        "environment": environment,
        "name": name,
        "deployment_frequency": {
            "deployments": len(deployed_at),
            "per_day": round(len(deployed_at) / days, 4),
            "bucket": frequency_bucket(deployed_at, now, days),
        },
        "lead_time": {"median_seconds": lead, "bucket": duration_bucket(lead)},
        "change_failure_rate": {
            "rate": rate,
            "failed": failed,
            "rolled_back": rolled_back,
            "finished": finished,
            "bucket": failure_bucket(rate),
        },
        "time_to_restore": {"median_seconds": restore, "bucket": duration_bucket(restore)},
    }


def trends(
    outcomes: Iterable[Outcome], restores: Iterable[Restore], now: datetime, days: int
) -> list[dict[str, Any]]:
    """Per UTC calendar day of the window (oldest first): counts, failure rate, medians."""
    outcomes = [o for o in outcomes if in_window(o.at, now, days)]
    restores = [r for r in restores if in_window(r.failed_at, now, days)]
    first = (now - timedelta(days=days)).date()
    result = []
    for offset in range((now.date() - first).days + 1):
        date = first + timedelta(days=offset)
        today = [o for o in outcomes if o.at.date() == date]
        failed = sum(1 for o in today if o.status == "failed")
        rolled_back = sum(1 for o in today if o.status == "rolled_back")
        finished = len(today)
        result.append(
            {
                "date": date.isoformat(),
                "deployments": sum(1 for o in today if o.status != "failed"),
                "failed": failed,
                "rolled_back": rolled_back,
                "finished": finished,
                "change_failure_rate": round((failed + rolled_back) / finished, 4)
                if finished
                else None,
                "lead_time_median_seconds": median(
                    o.lead_seconds for o in today if o.lead_seconds is not None
                ),
                "time_to_restore_median_seconds": median(
                    r.seconds for r in restores if r.failed_at.date() == date
                ),
            }
        )
    return result
