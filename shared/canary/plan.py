"""The canary rollout state machine: given the record, the time and a verdict, what happens next.

Pure: no I/O. The engine applies the decision (Cloud Run, the store); this module
only decides, and says why in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from shared import clock
from shared.canary.verdict import CanaryVerdict
from shared.models.canary import CanaryStatus, OnNoData, Strategy, Verdict


class Action(str, Enum):
    none = "none"  # keep the traffic as it is; check again later
    advance = "advance"  # move to the next traffic step
    promote = "promote"  # 100% to the canary revision, done
    rollback = "rollback"  # 100% to the stable revision, done
    hold = "hold"  # stop checking; wait for a person to promote or abort


class UnknownVerdict(ValueError):
    """A verdict the plan does not know: an error, never a guess."""


@dataclass(frozen=True)
class Decision:
    """What to do, the canary's traffic share and step afterwards, its status, and why."""

    action: Action
    reason: str
    traffic_percent: int
    step_index: int
    status: CanaryStatus


def traffic_steps(strategy: Strategy | str, steps: list[int]) -> list[int]:
    """The canary's traffic share at each step: the canary steps, or one 100% step."""
    if Strategy(strategy) == Strategy.canary:
        return list(steps)
    return [100]


def planned_end(record: Mapping[str, Any]) -> datetime:
    """When every step would have lasted step_minutes (for one step: step_minutes after start)."""
    count = len(traffic_steps(record["strategy"], record["steps"]))
    return clock.parse(record["started_at"]) + timedelta(minutes=record["step_minutes"] * count)


def step_ends(record: Mapping[str, Any]) -> datetime:
    return clock.parse(record["step_started_at"]) + timedelta(minutes=record["step_minutes"])


def begin(record: Mapping[str, Any]) -> Decision:
    """A new candidate's first move: the first traffic step (100% for blue_green, all_at_once)."""
    steps = traffic_steps(record["strategy"], record["steps"])
    return Decision(
        Action.advance,
        f"new candidate: step 1 of {len(steps)} at {steps[0]}%",
        steps[0],
        0,
        CanaryStatus.progressing,
    )


def decide(record: Mapping[str, Any], now: datetime, verdict: CanaryVerdict) -> Decision:
    """The next move of a canary after a check with `verdict` at `now`.

    Raises UnknownVerdict for a verdict outside Healthy / Unhealthy / Inconclusive.
    """
    if not isinstance(verdict.verdict, Verdict):
        raise UnknownVerdict(f"unknown verdict {verdict.verdict!r}: refusing to guess")
    status = CanaryStatus(record["status"])
    percent = int(record.get("traffic_percent") or 0)
    index = int(record.get("step_index", -1))

    def keep(reason: str) -> Decision:
        return Decision(Action.none, reason, percent, index, status)

    if status != CanaryStatus.progressing:
        return keep(f"the canary is {status.value}; checks change nothing")
    steps = traffic_steps(record["strategy"], record["steps"])
    if index < 0:
        return begin(record)
    if verdict.query_failed:
        errors = int(record.get("consecutive_errors") or 0) + 1
        limit = int(record.get("consecutive_error_limit") or 4)
        if errors >= limit:
            return _rollback(
                f"Cloud Monitoring unavailable for {errors} consecutive checks ({verdict.reason})"
            )
        return keep(f"{verdict.reason}; holding traffic ({errors} of {limit} before rollback)")
    if verdict.verdict == Verdict.unhealthy:
        return _rollback(f"Unhealthy: {verdict.reason}")
    if verdict.verdict == Verdict.inconclusive:
        return _inconclusive(record, now, verdict, keep)
    return _healthy(record, now, verdict, keep, steps)


def _inconclusive(record, now: datetime, verdict: CanaryVerdict, keep) -> Decision:
    """Inconclusive never advances; lacking data when the planned time is over, on_no_data
    decides."""
    percent = int(record.get("traffic_percent") or 0)
    index = int(record.get("step_index", -1))
    if verdict.lacks_data and now >= planned_end(record):
        if OnNoData(record.get("on_no_data") or "rollback") == OnNoData.hold:
            return Decision(
                Action.hold,
                f"no data: {verdict.reason} when the planned time ended; held "
                "(on_no_data=hold) until someone promotes or aborts",
                percent,
                index,
                CanaryStatus.held,
            )
        return _rollback(
            f"no data: {verdict.reason} when the planned time ended (on_no_data=rollback)"
        )
    return keep(f"Inconclusive: {verdict.reason}; step {index + 1} waits")


def _healthy(record, now: datetime, verdict: CanaryVerdict, keep, steps: list[int]) -> Decision:
    """A step ends at the first Healthy check once it lasted step_minutes; the last promotes."""
    percent = int(record.get("traffic_percent") or 0)
    index = int(record.get("step_index", -1))
    if now < step_ends(record):
        return keep(
            f"Healthy ({verdict.reason}); step {index + 1} of {len(steps)} at {percent}% "
            f"lasts until {clock.to_text(step_ends(record))}"
        )
    if index + 1 < len(steps):
        return Decision(
            Action.advance,
            f"step {index + 1} healthy for {_minutes(record['step_minutes'])} ({verdict.reason});"
            f" step {index + 2} of {len(steps)} at {steps[index + 1]}%",
            steps[index + 1],
            index + 1,
            CanaryStatus(record["status"]),
        )
    return Decision(
        Action.promote,
        f"healthy through every step ({verdict.reason}); promoted to 100%",
        100,
        index,
        CanaryStatus.promoted,
    )


def _rollback(reason: str) -> Decision:
    return Decision(
        Action.rollback, f"{reason}; rolled back to stable", 0, -1, CanaryStatus.rolled_back
    )


def _minutes(value: float) -> str:
    if value < 1:
        return f"{value * 60:g} s"
    return f"{value:g} min"
