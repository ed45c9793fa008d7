"""The rollout state machine, table-driven, with the cloud-run-release-manager cases and more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import clock
from shared.canary import plan
from shared.canary.plan import Action
from shared.canary.verdict import CanaryVerdict
from shared.models.canary import CanaryStatus, StartOutcome, Verdict, start_decision

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HEALTHY = CanaryVerdict(Verdict.healthy, "within thresholds: 500 requests")
UNHEALTHY = CanaryVerdict(Verdict.unhealthy, "p99 5700 ms > 2000 ms (500 requests)")
NO_DATA = CanaryVerdict(Verdict.inconclusive, "only 3 requests", lacks_data=True)
QUERY_FAILED = CanaryVerdict(
    Verdict.inconclusive, "Cloud Monitoring query failed", query_failed=True
)


def record(**changes):
    base = {
        "id": "c1",
        "status": "progressing",
        "strategy": "canary",
        "steps": [5, 20, 50],
        "step_minutes": 10,
        "started_at": clock.to_text(T0),
        "step_started_at": clock.to_text(T0),
        "step_index": 0,
        "traffic_percent": 5,
        "on_no_data": "rollback",
        "consecutive_errors": 0,
        "consecutive_error_limit": 4,
    }
    base.update(changes)
    return base


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


LATE_STEP3 = {"step_index": 2, "traffic_percent": 50, "step_started_at": clock.to_text(at(20))}

CASES = [
    # (name, record changes, now (minutes after start), verdict, action, percent, status)
    (
        "new candidate starts at step 1",
        {"step_index": -1, "traffic_percent": 0},
        0,
        HEALTHY,
        Action.advance,
        5,
        CanaryStatus.progressing,
    ),
    (
        "keep rolling: healthy, step not over",
        {},
        3,
        HEALTHY,
        Action.none,
        5,
        CanaryStatus.progressing,
    ),
    (
        "healthy but too early for the next step",
        {},
        9.99,
        HEALTHY,
        Action.none,
        5,
        CanaryStatus.progressing,
    ),
    (
        "healthy for the whole step advances",
        {},
        10,
        HEALTHY,
        Action.advance,
        20,
        CanaryStatus.progressing,
    ),
    (
        "ready to become stable after the last step",
        LATE_STEP3,
        30,
        HEALTHY,
        Action.promote,
        100,
        CanaryStatus.promoted,
    ),
    ("last step not over yet", LATE_STEP3, 29, HEALTHY, Action.none, 50, CanaryStatus.progressing),
    (
        "unhealthy rolls back at once",
        {},
        1,
        UNHEALTHY,
        Action.rollback,
        0,
        CanaryStatus.rolled_back,
    ),
    (
        "unhealthy on the last step rolls back",
        LATE_STEP3,
        30,
        UNHEALTHY,
        Action.rollback,
        0,
        CanaryStatus.rolled_back,
    ),
    ("inconclusive changes nothing", {}, 15, NO_DATA, Action.none, 5, CanaryStatus.progressing),
    (
        "inconclusive never advances even when the step is over",
        {},
        20,
        NO_DATA,
        Action.none,
        5,
        CanaryStatus.progressing,
    ),
    (
        "no data until the end rolls back",
        {},
        30,
        NO_DATA,
        Action.rollback,
        0,
        CanaryStatus.rolled_back,
    ),
    (
        "no data until the end holds with on_no_data=hold",
        {"on_no_data": "hold"},
        30,
        NO_DATA,
        Action.hold,
        5,
        CanaryStatus.held,
    ),
    (
        "one step: planned time is step_minutes after start",
        {"steps": [10]},
        10,
        NO_DATA,
        Action.rollback,
        0,
        CanaryStatus.rolled_back,
    ),
    (
        "monitoring failure holds traffic",
        {"consecutive_errors": 1},
        40,
        QUERY_FAILED,
        Action.none,
        5,
        CanaryStatus.progressing,
    ),
    (
        "monitoring failure never triggers on_no_data",
        {"consecutive_errors": 0},
        90,
        QUERY_FAILED,
        Action.none,
        5,
        CanaryStatus.progressing,
    ),
    (
        "monitoring failing up to the limit rolls back",
        {"consecutive_errors": 3},
        5,
        QUERY_FAILED,
        Action.rollback,
        0,
        CanaryStatus.rolled_back,
    ),
    (
        "held canary: checks change nothing",
        {"status": "held"},
        50,
        UNHEALTHY,
        Action.none,
        5,
        CanaryStatus.held,
    ),
    (
        "all_at_once serves 100% and promotes when healthy",
        {"strategy": "all_at_once", "traffic_percent": 100},
        10,
        HEALTHY,
        Action.promote,
        100,
        CanaryStatus.promoted,
    ),
    (
        "blue_green first step is 100%",
        {"strategy": "blue_green", "step_index": -1},
        0,
        HEALTHY,
        Action.advance,
        100,
        CanaryStatus.progressing,
    ),
]


@pytest.mark.parametrize(
    "changes, minutes, verdict, action, percent, status",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(changes, minutes, verdict, action, percent, status):
    decision = plan.decide(record(**changes), at(minutes), verdict)
    assert decision.action == action
    assert decision.traffic_percent == percent
    assert decision.status == status
    assert decision.reason and "\n" not in decision.reason


def test_unknown_verdict_is_an_error():
    with pytest.raises(plan.UnknownVerdict):
        plan.decide(record(), at(1), CanaryVerdict("Unknown", "no idea"))


def test_reasons_explain_the_decision():
    rollback = plan.decide(record(), at(1), UNHEALTHY)
    assert "p99 5700 ms > 2000 ms" in rollback.reason
    limit = plan.decide(record(consecutive_errors=3), at(1), QUERY_FAILED)
    assert "Cloud Monitoring unavailable for 4 consecutive checks" in limit.reason
    no_data = plan.decide(record(), at(30), NO_DATA)
    assert "no data" in no_data.reason and "on_no_data=rollback" in no_data.reason
    step = plan.decide(record(), at(10), HEALTHY)
    assert "step 2 of 3 at 20%" in step.reason


START_CASES = [
    ("new candidate", None, None, StartOutcome.start),
    (
        "different candidate after an ended rollout restarts from step 1",
        None,
        None,
        StartOutcome.start,
    ),
    (
        "another rollout of the service is active",
        {"id": "a", "status": "progressing", "canary_revision": "svc-2"},
        None,
        StartOutcome.conflict,
    ),
    (
        "the same candidate is already rolling out",
        {"id": "a", "status": "held", "canary_revision": "svc-3"},
        None,
        StartOutcome.conflict,
    ),
    (
        "the latest revision is a failed candidate: no change",
        None,
        {"id": "b", "status": "rolled_back", "reason": "p99 too high"},
        StartOutcome.rejected,
    ),
    (
        "a manually aborted candidate stays aborted",
        None,
        {"id": "b", "status": "aborted", "reason": "aborted by x"},
        StartOutcome.rejected,
    ),
]


@pytest.mark.parametrize(
    "active, rejected, outcome", [c[1:] for c in START_CASES], ids=[c[0] for c in START_CASES]
)
def test_start(active, rejected, outcome):
    decision = start_decision("svc-3", active, rejected)
    assert decision.outcome == outcome
    assert decision.reason


def test_traffic_steps_per_strategy():
    assert plan.traffic_steps("canary", [5, 20, 50]) == [5, 20, 50]
    assert plan.traffic_steps("blue_green", [5, 20]) == [100]
    assert plan.traffic_steps("all_at_once", [10]) == [100]
