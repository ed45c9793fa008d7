"""Pure logic of the Monitoring fake: filter subset, Cloud Run distributions, alignment."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.cloud import monitoring_v3

from tests.fakes import ApiError, Distribution, FakeMonitoring
from tests.fakes.timeseries import parse_filter

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    "text, metric_type, conditions",
    [
        (
            'metric.type = "run.googleapis.com/request_count"',
            "run.googleapis.com/request_count",
            [],
        ),
        (
            'metric.type="m" AND resource.labels.service_name="web"',
            "m",
            [("resource", "service_name", "=", "web")],
        ),
        (
            'metric.type = \'m\' AND resource.label.revision_name = one_of("a", "b")',
            "m",
            [("resource", "revision_name", "one_of", ("a", "b"))],
        ),
        (
            'metric.type = "m" AND metric.labels.response_code_class != "2xx"',
            "m",
            [("metric", "response_code_class", "!=", "2xx")],
        ),
        (
            'metric.type = "m" AND resource.labels.revision_name = starts_with("web-")',
            "m",
            [("resource", "revision_name", "starts_with", "web-")],
        ),
    ],
)
def test_supported_filters(text, metric_type, conditions):
    parsed = parse_filter(text)
    assert (parsed.metric_type, parsed.conditions) == (metric_type, conditions)


@pytest.mark.parametrize(
    "text",
    [
        "",
        'resource.type = "cloud_run_revision"',
        'metric.type = "a" AND metric.type = "b"',
        'metric.type = "m" OR resource.type = "x"',
        'metric.type = "m" AND NOT resource.type = "x"',
        'metric.type = "m" resource.type = "x"',
        'metric.type = "m" AND resource.labels.x = unquoted',
        'metric.type = "m" AND project = "p"',
        '(metric.type = "m")',
    ],
)
def test_other_filters_are_invalid_argument(text):
    with pytest.raises(ApiError) as err:
        parse_filter(text)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "value, bucket",
    [
        (0.5, 0),
        (1.0, 1),
        (1.39, 1),
        (1.4, 2),
        (100.0, 14),
        (1e30, 101),
    ],
)
def test_exponential_buckets_like_cloud_run(value, bucket):
    dist = Distribution([value])
    assert dist.counts[bucket] == 1
    assert len(dist.to_pb().bucket_counts) == bucket + 1  # trailing empty buckets omitted


@pytest.mark.parametrize(
    "values, pct, low, high",
    [
        ([250.0] * 10, 99, 250.0, 250.0),
        ([100.0] * 99 + [5000.0], 50, 79.0, 112.0),
        ([100.0] * 90 + [3000.0] * 10, 95, 2100.0, 3000.0),
        ([10.0, 20.0, 30.0, 40.0], 100, 40.0, 40.0),
    ],
)
def test_percentiles_read_from_buckets_stay_within_the_data(values, pct, low, high):
    assert low <= Distribution(values).percentile(pct) <= high


def request(
    filter_,
    start,
    end,
    aligner=Aligner.ALIGN_NONE,
    reducer=Reducer.REDUCE_NONE,
    period=60,
    group_by=(),
):
    return monitoring_v3.ListTimeSeriesRequest(
        name="projects/p",
        filter=filter_,
        interval={
            "start_time": dt.datetime.fromtimestamp(start, dt.UTC),
            "end_time": dt.datetime.fromtimestamp(end, dt.UTC),
        },
        aggregation={
            "alignment_period": {"seconds": period},
            "per_series_aligner": aligner,
            "cross_series_reducer": reducer,
            "group_by_fields": list(group_by),
        },
    )


COUNT = 'metric.type = "run.googleapis.com/request_count"'


def test_periods_end_at_the_interval_end_and_the_start_is_exclusive():
    fake = FakeMonitoring()
    for at, n in ((T0 - 180, 1), (T0 - 179, 2), (T0 - 61, 4), (T0 - 60, 8), (T0, 16)):
        fake.add_requests("p", "web", "web-1", at, n)
    response = fake.list_time_series(
        request(COUNT, T0 - 180, T0, Aligner.ALIGN_DELTA, Reducer.REDUCE_SUM)
    )
    points = [
        (p.interval.end_time.timestamp() - T0, p.value.int64_value)
        for p in response.time_series[0].points
    ]
    assert points == [(0, 16), (-60, 4 + 8), (-120, 2)]  # newest first; T0-180 excluded


def test_percentile_aligner_on_counts_and_rate_on_distributions():
    fake = FakeMonitoring()
    fake.add_latencies("p", "web", "web-1", T0 - 1, [10.0, 20.0])
    latencies = 'metric.type = "run.googleapis.com/request_latencies"'
    with pytest.raises(ApiError, match="DISTRIBUTION"):
        fake.list_time_series(request(latencies, T0 - 60, T0, Aligner.ALIGN_RATE))
    with pytest.raises(ApiError, match="ALIGN_NONE"):
        fake.list_time_series(request(latencies, T0 - 60, T0, reducer=Reducer.REDUCE_SUM))
    headers = fake.list_time_series(
        monitoring_v3.ListTimeSeriesRequest(
            name="projects/p",
            filter=latencies,
            interval={
                "end_time": dt.datetime.fromtimestamp(T0, dt.UTC),
                "start_time": dt.datetime.fromtimestamp(T0 - 60, dt.UTC),
            },
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS,
        )
    )
    assert len(headers.time_series) == 1 and not headers.time_series[0].points
    assert headers.time_series[0].resource.labels["configuration_name"] == "web"
