"""The Four Keys computations: buckets, medians, frequency, restores out of order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock
from shared.models import dora

NOW = clock.parse("2026-06-30T12:00:00Z")
H, D = timedelta(hours=1), timedelta(days=1)


def outcome(status, ago, lead=None, id_=None):
    return dora.Outcome(id_ or f"{status}-{ago}", status, NOW - ago, lead)


@pytest.mark.parametrize(
    "seconds, bucket",
    [
        (None, None),
        (0, "One day"),
        (24 * 3600 - 1, "One day"),
        (24 * 3600, "One week"),
        (168 * 3600 - 1, "One week"),
        (168 * 3600, "One month"),
        (730 * 3600, "Six months"),
        (4380 * 3600 - 1, "Six months"),
        (4380 * 3600, "One year"),
    ],
)
def test_duration_buckets(seconds, bucket):
    assert dora.duration_bucket(seconds) == bucket


@pytest.mark.parametrize(
    "rate, bucket",
    [
        (None, None),
        (0.0, "0-15%"),
        (0.15, "0-15%"),
        (0.1501, "16-45%"),
        (0.4599, "16-45%"),
        (0.46, "46-60%"),
        (1.0, "46-60%"),
    ],
)
def test_failure_buckets(rate, bucket):
    assert dora.failure_bucket(rate) == bucket


@pytest.mark.parametrize(
    "ages, days, bucket",
    [
        # Three distinct days in every week -> Daily.
        ([w * 7 * D + k * D + H for w in range(4) for k in range(3)], 30, "Daily"),
        # Many deployments, but on two days a week -> Weekly.
        ([w * 7 * D + k * D + H for w in range(4) for k in (0, 0, 0, 1)], 30, "Weekly"),
        # Three weeks of four -> median week has one -> Weekly.
        ([H, 8 * D, 15 * D], 30, "Weekly"),
        # Two weeks of four: the median week (mean of the middle two) has half -> Monthly.
        ([H, 8 * D], 30, "Monthly"),
        # One week of four -> Monthly.
        ([H, 2 * H, 3 * H], 30, "Monthly"),
        # Nothing for 30 days in a 90-day window, except in one month of three -> Yearly.
        ([70 * D], 90, "Yearly"),
        ([], 30, "Yearly"),
        # A window shorter than a week is one period.
        ([H, D + H, 2 * D + H], 3, "Daily"),
    ],
)
def test_frequency_bucket(ages, days, bucket):
    assert dora.frequency_bucket([NOW - a for a in ages], NOW, days) == bucket


def test_metrics_follow_the_definitions():
    outcomes = [
        outcome("deployed", 1 * D, lead=100.0),
        outcome("deployed", 2 * D, lead=300.0),
        outcome("rolled_back", 3 * D, lead=200.0),
        outcome("failed", 4 * D),
        outcome("deployed", 40 * D, lead=1.0),  # outside the window
    ]
    restores = [dora.Restore("f", NOW - 4 * D, 600.0), dora.Restore("g", NOW - 50 * D, 1.0)]
    figures = dora.metrics(outcomes, restores, NOW, 30)
    assert figures["deployment_frequency"]["deployments"] == 3
    assert figures["deployment_frequency"]["per_day"] == 0.1
    assert figures["lead_time"] == {"median_seconds": 200.0, "bucket": "One day"}
    assert figures["change_failure_rate"] == {
        "rate": 0.5,
        "failed": 1,
        "rolled_back": 1,
        "finished": 4,
        "bucket": "46-60%",
    }
    assert figures["time_to_restore"] == {"median_seconds": 600.0, "bucket": "One day"}


def test_even_count_median_is_the_mean_of_the_middle_two():
    assert dora.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert dora.median([]) is None


def test_outcome_of_records():
    base = {
        "id": "a",
        "status": "deployed",
        "deployed_at": "2026-06-30T10:00:00.000000Z",
        "status_changed_at": "2026-06-30T10:00:00.000000Z",
        "commit_timestamp": "2026-06-30T09:00:00.000000Z",
    }
    assert dora.outcome_of(base).lead_seconds == 3600.0
    assert dora.outcome_of({**base, "commit_timestamp": None}).lead_seconds is None
    failed = dora.outcome_of(
        {
            **base,
            "status": "failed",
            "deployed_at": None,
            "status_changed_at": "2026-06-30T11:00:00.000000Z",
        }
    )
    assert failed.status == "failed" and failed.lead_seconds is None
    assert failed.at == clock.parse("2026-06-30T11:00:00Z")
    assert dora.outcome_of({**base, "status": "skipped"}) is None
    assert dora.outcome_of({**base, "status": "in_progress"}) is None


def test_restores_in_any_order_pick_the_next_deploy():
    labels = {"environment": "prod", "name": "web"}
    failed = dora.Outcome("f", "failed", NOW - 10 * H)
    early = dora.Outcome("e", "deployed", NOW - 9 * H)
    late = dora.Outcome("l", "deployed", NOW - 5 * H)
    before = dora.Outcome("b", "deployed", NOW - 11 * H)

    def run(order):
        state, samples = {}, []
        for item in order:
            state, new = dora.track_restores(state, item, labels)
            samples += new
        final = {}
        for _, restore in samples:
            final[restore.failure_id] = restore.seconds  # later samples correct earlier ones
        return final

    expected = {"f": 3600.0}
    assert run([before, failed, early, late]) == expected
    assert run([late, early, failed, before]) == expected
    assert run([late, failed, early]) == expected
    assert run([before, failed]) == {}
