"""Pure pieces of canary rollouts: traffic lists, tags, task URL, percentiles, filters, models."""

from __future__ import annotations

import math
from datetime import UTC

import pytest
from google.api import distribution_pb2
from pydantic import ValidationError

from shared.canary.traffic import pick_tag, split
from shared.google.cloud_run import TrafficEntry
from shared.google.monitoring import percentile, revision_filter
from shared.models.canary import CanaryStatus, default_strategy, transition_error
from shared.schemas.canary import CanaryCreate

E = TrafficEntry


def test_split_gives_the_canary_its_share_and_keeps_foreign_tags():
    current = [E("svc-1", 100, "prod"), E("svc-0", 0, "old")]
    assert split(current, "svc-1", "svc-2", 10, "canary") == [
        E("svc-1", 90, "prod"),
        E("svc-2", 10, "canary"),
        E("svc-0", 0, "old"),
    ]


def test_split_rollback_untags_the_canary_so_it_can_be_deleted():
    current = [E("svc-1", 80), E("svc-2", 20, "canary")]
    assert split(current, "svc-1", "svc-2", 0, None) == [E("svc-1", 100)]
    assert split(current, "svc-1", "svc-2", 0, "canary") == [
        E("svc-1", 100),
        E("svc-2", 0, "canary"),
    ]


def test_split_promote():
    assert split([E("svc-1", 90), E("svc-2", 10, "canary")], "svc-1", "svc-2", 100, "canary") == [
        E("svc-2", 100, "canary")
    ]


def test_pick_tag():
    assert pick_tag([E("svc-1", 100)], "svc-2") == "canary"
    assert pick_tag([E("svc-1", 100), E("svc-2", 0, "green")], "svc-2") == "green"
    assert pick_tag([E("svc-1", 100, "canary")], "svc-2") == "deployq-canary"


def exponential(counts, growth=1.4, scale=1.0, finite=100):
    options = distribution_pb2.Distribution.BucketOptions(
        exponential_buckets=distribution_pb2.Distribution.BucketOptions.Exponential(
            num_finite_buckets=finite, growth_factor=growth, scale=scale
        )
    )
    return options


def bucket_of(value, growth=1.4, scale=1.0):
    return int(math.floor(math.log(value / scale, growth))) + 1


def test_percentile_from_exponential_buckets_is_close_to_the_truth():
    values = [100.0] * 95 + [5000.0] * 5
    counts = [0] * 102
    for value in values:
        counts[bucket_of(value)] += 1
    options = exponential(counts)
    p95 = percentile(options, counts, 95)
    p99 = percentile(options, counts, 99)
    assert 70 <= p95 <= 140
    assert 3500 <= p99 <= 7000


def test_percentile_of_nothing_is_none():
    assert percentile(exponential([]), [0, 0, 0], 99) is None


def test_percentile_overflow_bucket_uses_its_lower_bound_or_mean():
    options = exponential([], finite=3)
    assert percentile(options, [0, 0, 0, 0, 10], 99) == pytest.approx(1.4**3)
    assert percentile(options, [0, 0, 0, 0, 10], 99, mean=50.0) == 50.0


def test_percentile_linear_and_explicit_buckets():
    linear = distribution_pb2.Distribution.BucketOptions(
        linear_buckets=distribution_pb2.Distribution.BucketOptions.Linear(
            num_finite_buckets=10, width=10, offset=0
        )
    )
    # 100 values spread evenly in 0..100
    assert percentile(linear, [0] + [10] * 10 + [0], 50) == pytest.approx(50)
    explicit = distribution_pb2.Distribution.BucketOptions(
        explicit_buckets=distribution_pb2.Distribution.BucketOptions.Explicit(bounds=[0, 100, 1000])
    )
    assert 100 <= percentile(explicit, [0, 0, 10, 0], 99) <= 1000


def test_revision_filter_reads_both_revisions_of_one_service():
    text = revision_filter("run.googleapis.com/request_count", "svc", "europe-west1", ["a", "b"])
    assert 'metric.type = "run.googleapis.com/request_count"' in text
    assert 'resource.labels.service_name = "svc"' in text
    assert 'resource.labels.revision_name = one_of("a", "b")' in text


def body(**changes):
    base = {"project": "p", "region": "r", "service": "s", "canary_revision": "s-2"}
    base.update(changes)
    return base


@pytest.mark.parametrize("steps", [[0], [100], [10, 10], [50, 20], [], [10.5], ["x"]], ids=str)
def test_bad_steps_are_refused(steps):
    with pytest.raises(ValidationError):
        CanaryCreate.model_validate(body(steps=steps))


def test_defaults_follow_the_contract():
    canary = CanaryCreate.model_validate(body(step_minutes=0.05))
    assert canary.steps == [10] and canary.interval_seconds == 60
    assert canary.thresholds.min_requests == 100 and canary.thresholds.max_error_rate_pct == 1.0
    assert canary.on_no_data.value == "rollback" and canary.delete_canary_on_rollback is True
    assert canary.consecutive_error_limit == 4
    with pytest.raises(ValidationError):
        CanaryCreate.model_validate(body(interval_seconds=0.5))
    with pytest.raises(ValidationError):
        CanaryCreate.model_validate(body(step_minutes=0))


def test_default_strategy_by_environment():
    assert default_strategy("dev").value == "all_at_once"
    assert default_strategy("staging").value == "blue_green"
    assert default_strategy("production").value == "canary"
    assert default_strategy(None).value == "canary"


def test_final_statuses_move_nowhere():
    assert transition_error(CanaryStatus.progressing, CanaryStatus.promoted) is None
    assert transition_error(CanaryStatus.held, CanaryStatus.aborted) is None
    assert transition_error(CanaryStatus.held, CanaryStatus.rolled_back) is not None
    for final in ("promoted", "rolled_back", "aborted", "failed"):
        assert transition_error(CanaryStatus(final), CanaryStatus.promoted) is not None


def test_window_start_reaches_back_for_late_metrics_but_not_past_the_step():
    from datetime import datetime, timedelta

    from shared import clock
    from shared.canary.checks import window_start

    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def text(seconds):
        return clock.to_text(t0 + timedelta(seconds=seconds))

    first = {"created_at": text(0), "step_started_at": text(1), "last_window_end": None}
    assert window_start(first, t0 + timedelta(seconds=60)) == t0  # the first: from the start
    steady = {"created_at": text(0), "step_started_at": text(1), "last_window_end": text(540)}
    assert window_start(steady, t0 + timedelta(seconds=600)) == t0 + timedelta(seconds=420)
    new_step = {"created_at": text(0), "step_started_at": text(540), "last_window_end": text(540)}
    assert window_start(new_step, t0 + timedelta(seconds=600)) == t0 + timedelta(seconds=540)
    outage = {"created_at": text(0), "step_started_at": text(1), "last_window_end": text(60)}
    assert window_start(outage, t0 + timedelta(seconds=900)) == t0 + timedelta(seconds=60)


def test_the_public_view_has_the_response_schema_fields_in_order():
    from shared.models.canary import PUBLIC_FIELDS
    from shared.schemas.canary import Canary

    assert PUBLIC_FIELDS == tuple(Canary.model_fields)
