"""Fake of Cloud Monitoring v3 (``google.monitoring.v3.MetricService``).

Served RPCs: ListTimeSeries, CreateTimeSeries, CreateMetricDescriptor, GetMetricDescriptor,
ListMetricDescriptors.

Data: Cloud Run's ``run.googleapis.com/request_count`` (DELTA INT64) and
``run.googleapis.com/request_latencies`` (DELTA DISTRIBUTION, milliseconds, EXPONENTIAL
buckets: 100 finite, growth 1.4, scale 1.0; trailing empty buckets omitted) on resource
``cloud_run_revision`` with resource labels ``project_id``, ``service_name``,
``revision_name``, ``location``, ``configuration_name`` and metric labels
``response_code_class`` (``2xx``, ``4xx``, ``5xx``) and ``response_code``; they come from
``add_requests`` / ``add_latencies`` points or from a ``script`` function. Every series
written by CreateTimeSeries can be read back too.

Supported ``filter`` (anything else is INVALID_ARGUMENT): terms joined by ``AND`` (no OR,
NOT or parentheses), exactly one ``metric.type = "..."``, and any of
``resource.type``, ``resource.label(s).KEY``, ``metric.label(s).KEY`` compared with
``=`` / ``!=`` to a quoted string, or ``= one_of("a", "b")``, ``= starts_with("a")``.

Supported ``interval``: reads are ``(start, end]`` like Monitoring (start defaults to end).

Supported ``aggregation``: ``alignment_period`` (required and >= 60 s when aligning, as
Monitoring demands); ``per_series_aligner`` ALIGN_NONE, ALIGN_DELTA, ALIGN_SUM, ALIGN_RATE,
ALIGN_MEAN, ALIGN_MIN, ALIGN_MAX, ALIGN_COUNT, ALIGN_PERCENTILE_99/95/50/05 (percentiles of
distributions are read from the buckets, interpolated and clamped to the data's min/max;
ALIGN_RATE of a distribution is INVALID_ARGUMENT as in Monitoring); ``cross_series_reducer``
REDUCE_NONE, REDUCE_SUM, REDUCE_MEAN, REDUCE_MIN, REDUCE_MAX, REDUCE_COUNT,
REDUCE_PERCENTILE_99/95/50/05 (a reducer needs an aligner); ``group_by_fields`` of
``resource.type``, ``resource.label(s).KEY``, ``metric.label(s).KEY``. Aligned periods
end at ``interval.end_time`` and step back by ``alignment_period``; only data inside the
interval counts. ``view`` FULL or HEADERS. Points come newest first; no paging;
``secondary_aggregation`` and ``order_by`` are INVALID_ARGUMENT.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.api import metric_pb2
from google.cloud import monitoring_v3
from google.protobuf import empty_pb2

from tests.fakes.common import ApiError, FailurePlan, to_datetime, to_epoch
from tests.fakes.common import status_code as _status_code
from tests.fakes.timeseries import (
    Aligner,
    Distribution,
    Filter,
    Key,
    Kind,
    Reducer,
    Sample,
    ValueType,
    align,
    alignment_periods,
    check_aggregation,
    group_field,
    inside,
    invalid,
    parse_filter,
    raw_series,
    reduce_series,
    series_pb,
    type_matches,
)

SERVICE = "google.monitoring.v3.MetricService"
REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
RUN_RESOURCE = "cloud_run_revision"
_CODES = {"1xx": "100", "2xx": "200", "3xx": "302", "4xx": "404", "5xx": "500"}

Script = Callable[..., dict | None]


class FakeMonitoring:
    """Cloud Monitoring time series: scripted Cloud Run metrics and written custom metrics."""

    def __init__(self, run_state=None):
        self.written: list[dict] = []
        self.queries: list[dict] = []
        self._run_state = run_state
        self._failures = FailurePlan()
        self._lock = threading.RLock()
        self._samples: list[Sample] = []
        self._descriptors: dict[str, metric_pb2.MetricDescriptor] = {}
        self._script: Script | None = None

    # test controls ---------------------------------------------------------------------

    def add_requests(
        self,
        project: str,
        service: str,
        revision: str,
        at: Any = None,
        count: int = 1,
        response_code_class: str = "2xx",
        *,
        location: str | None = None,
        response_code: str | None = None,
    ) -> None:
        """Record count requests answered by revision at time at (datetime or epoch)."""
        key = self._run_key(
            REQUEST_COUNT, project, service, revision, location, response_code_class, response_code
        )
        end = time.time() if at is None else to_epoch(at)
        self._add(Sample(key, Kind.DELTA, ValueType.INT64, end, end, int(count)))

    def add_latencies(
        self,
        project: str,
        service: str,
        revision: str,
        at: Any = None,
        values_ms: list[float] = (),
        response_code_class: str = "2xx",
        *,
        location: str | None = None,
        response_code: str | None = None,
    ) -> None:
        """Record request latencies (ms) of revision at time at as one distribution point."""
        key = self._run_key(
            REQUEST_LATENCIES,
            project,
            service,
            revision,
            location,
            response_code_class,
            response_code,
        )
        end = time.time() if at is None else to_epoch(at)
        dist = Distribution([float(v) for v in values_ms])
        self._add(Sample(key, Kind.DELTA, ValueType.DISTRIBUTION, end, end, dist))

    def script(self, fn: Script | None) -> None:
        """Compute Cloud Run windows on demand: fn(project, service, revision, start, end).

        fn returns None or {"requests": {"2xx": n, "5xx": m}, "latencies_ms": [...]}; start
        and end are aware UTC datetimes of one aligned period. None removes the script.
        """
        with self._lock:
            self._script = fn

    def fail_next(
        self,
        n: int = 1,
        code: Any = grpc.StatusCode.UNAVAILABLE,
        method: str | None = "ListTimeSeries",
    ) -> None:
        """Fail the next n calls of method (None: any MetricService method)."""
        self._failures.fail_next(method, _status_code(code), n)

    def fail_all(
        self,
        enabled: bool = True,
        code: Any = grpc.StatusCode.UNAVAILABLE,
        method: str | None = "ListTimeSeries",
    ) -> None:
        """Fail every call of method (None: any) until fail_all(False): an outage."""
        self._failures.fail_all(method, _status_code(code) if enabled else None)

    def reset(self) -> None:
        """Forget every point, written series, query, descriptor, script and failure."""
        with self._lock:
            self._samples.clear()
            self.written.clear()
            self.queries.clear()
            self._descriptors.clear()
            self._script = None
            self._failures.clear()

    # RPCs ------------------------------------------------------------------------------

    def rpc_methods(self) -> dict[str, dict[str, tuple]]:
        """The served methods: {service: {method: (handler, request type, response type)}}."""
        m = monitoring_v3
        return {
            SERVICE: {
                "ListTimeSeries": (
                    self.list_time_series,
                    m.ListTimeSeriesRequest,
                    m.ListTimeSeriesResponse,
                ),
                "CreateTimeSeries": (
                    self.create_time_series,
                    m.CreateTimeSeriesRequest,
                    empty_pb2.Empty,
                ),
                "CreateMetricDescriptor": (
                    self.create_metric_descriptor,
                    m.CreateMetricDescriptorRequest,
                    metric_pb2.MetricDescriptor,
                ),
                "GetMetricDescriptor": (
                    self.get_metric_descriptor,
                    m.GetMetricDescriptorRequest,
                    metric_pb2.MetricDescriptor,
                ),
                "ListMetricDescriptors": (
                    self.list_metric_descriptors,
                    m.ListMetricDescriptorsRequest,
                    m.ListMetricDescriptorsResponse,
                ),
            }
        }

    def list_time_series(self, request: monitoring_v3.ListTimeSeriesRequest):
        """ListTimeSeries over the supported filter/aggregation subset (module docstring)."""
        self._failures.check("ListTimeSeries")
        project = _project(request.name)
        query = parse_filter(request.filter)
        if request.order_by or "secondary_aggregation" in request:
            raise invalid("order_by and secondary_aggregation are not supported by the fake")
        end = to_epoch(request.interval.end_time) if request.interval.end_time else time.time()
        start = to_epoch(request.interval.start_time) if request.interval.start_time else end
        if start > end:
            raise invalid("interval.start_time must not be later than interval.end_time")
        agg = request.aggregation
        aligner = Aligner(int(agg.per_series_aligner))
        reducer = Reducer(int(agg.cross_series_reducer))
        period = agg.alignment_period.total_seconds() if agg.alignment_period else 0.0
        check_aggregation(aligner, reducer, period)
        group_by = [group_field(f) for f in agg.group_by_fields]
        with self._lock:
            self.queries.append(
                {
                    "project": project,
                    "filter": request.filter,
                    "start": to_datetime(start),
                    "end": to_datetime(end),
                    "aligner": aligner.name,
                    "reducer": reducer.name,
                    "group_by": list(agg.group_by_fields),
                }
            )
            periods = (
                alignment_periods(start, end, period)
                if aligner != Aligner.ALIGN_NONE
                else [(start, end)]
            )
            samples = [s for s in self._stored(project, query) if inside(s, start, end)]
        samples += self._scripted(project, query, periods)
        if aligner == Aligner.ALIGN_NONE:
            series = raw_series(samples)
        else:
            series = align(samples, aligner, periods, period)
            if reducer != Reducer.REDUCE_NONE:
                series = reduce_series(series, reducer, group_by)
        headers_only = int(request.view) == int(
            monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS
        )
        out = [series_pb(s, headers_only) for s in sorted(series, key=lambda s: s["sort"])]
        return monitoring_v3.ListTimeSeriesResponse(time_series=out, unit=_unit(query))

    def create_time_series(self, request: monitoring_v3.CreateTimeSeriesRequest):
        """CreateTimeSeries: exactly one point per series; recorded in .written."""
        self._failures.check("CreateTimeSeries")
        project = _project(request.name)
        if not request.time_series or len(request.time_series) > 200:
            raise invalid("a request writes 1..200 time series")
        samples = []
        for ts in request.time_series:
            if len(ts.points) != 1:
                raise invalid(f"time series {ts.metric.type} must contain exactly one point")
            if not ts.metric.type:
                raise invalid("metric.type is required")
            point = ts.points[0]
            which = monitoring_v3.TypedValue.pb(point.value).WhichOneof("value")
            if which is None:
                raise invalid("the point has no value")
            raw = getattr(point.value, which)
            value = Distribution.from_pb(raw) if which == "distribution_value" else raw
            end = to_epoch(point.interval.end_time)
            start = to_epoch(point.interval.start_time) if point.interval.start_time else end
            kind = int(ts.metric_kind) or Kind.GAUGE
            value_type = {
                "bool_value": ValueType.BOOL,
                "int64_value": ValueType.INT64,
                "double_value": ValueType.DOUBLE,
                "string_value": ValueType.STRING,
                "distribution_value": ValueType.DISTRIBUTION,
            }[which]
            resource_labels = dict(ts.resource.labels)
            resource_labels.setdefault("project_id", project)
            key = Key(
                ts.metric.type,
                ts.resource.type or "global",
                tuple(sorted(resource_labels.items())),
                tuple(sorted(dict(ts.metric.labels).items())),
            )
            samples.append(Sample(key, kind, value_type, start, end, value))
        with self._lock:
            for sample in samples:
                self._samples.append(sample)
                value = sample.value
                if isinstance(value, Distribution):
                    value = {"count": value.count, "mean": value.mean}
                self.written.append(
                    {
                        "project": project,
                        "metric_type": sample.key.metric_type,
                        "metric_labels": dict(sample.key.metric_labels),
                        "resource_type": sample.key.resource_type,
                        "resource_labels": dict(sample.key.resource_labels),
                        "metric_kind": Kind.Name(sample.kind),
                        "value_type": ValueType.Name(sample.value_type),
                        "value": value,
                        "time": to_datetime(sample.end),
                    }
                )
        return empty_pb2.Empty()

    def create_metric_descriptor(self, request):
        """CreateMetricDescriptor: stored and echoed back with its name."""
        self._failures.check("CreateMetricDescriptor")
        descriptor = metric_pb2.MetricDescriptor()
        descriptor.CopyFrom(request.metric_descriptor)
        descriptor.name = f"{request.name}/metricDescriptors/{descriptor.type}"
        with self._lock:
            self._descriptors[descriptor.name] = descriptor
        return descriptor

    def get_metric_descriptor(self, request):
        """GetMetricDescriptor of a created descriptor."""
        self._failures.check("GetMetricDescriptor")
        with self._lock:
            if request.name not in self._descriptors:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
            return self._descriptors[request.name]

    def list_metric_descriptors(self, request):
        """ListMetricDescriptors of created descriptors (filter on metric.type only)."""
        self._failures.check("ListMetricDescriptors")
        query = parse_filter(request.filter, require_type=False) if request.filter else None
        with self._lock:
            found = [
                d
                for name, d in sorted(self._descriptors.items())
                if name.startswith(request.name + "/")
                and (query is None or type_matches(query, d.type))
            ]
        return monitoring_v3.ListMetricDescriptorsResponse(metric_descriptors=found)

    # data ------------------------------------------------------------------------------

    def _add(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def _run_key(
        self, metric_type, project, service, revision, location=None, code_class="2xx", code=None
    ) -> Key:
        if location is None:
            regions = [r for r, rev in self._run_revisions(project, service) if rev == revision]
            location = regions[0] if regions else "us-central1"
        resource = {
            "project_id": project,
            "service_name": service,
            "revision_name": revision,
            "location": location,
            "configuration_name": service,
        }
        metric = {
            "response_code_class": code_class,
            "response_code": code or _CODES.get(code_class, "200"),
        }
        return Key(
            metric_type,
            RUN_RESOURCE,
            tuple(sorted(resource.items())),
            tuple(sorted(metric.items())),
        )

    def _run_revisions(self, project: str, service: str) -> list[tuple[str, str]]:
        return self._run_state.revisions_of(project, service) if self._run_state else []

    def _stored(self, project: str, query: Filter) -> list[Sample]:
        return [
            s
            for s in self._samples
            if s.key.metric_type == query.metric_type
            and s.key.label("resource", "project_id") == project
            and query.matches(s.key)
        ]

    def _scripted(self, project: str, query: Filter, periods) -> list[Sample]:
        script = self._script
        if script is None or query.metric_type not in (REQUEST_COUNT, REQUEST_LATENCIES):
            return []
        services = query.values("resource", "service_name")
        if services is None and self._run_state:
            services = self._run_state.services_of(project)
        samples = []
        for service in services or []:
            revisions = {rev: region for region, rev in self._run_revisions(project, service)}
            for revision in query.values("resource", "revision_name") or []:
                revisions.setdefault(revision, None)
            for revision, region in sorted(revisions.items()):
                for start, end in periods:
                    window = (
                        script(project, service, revision, to_datetime(start), to_datetime(end))
                        or {}
                    )
                    samples += self._window_samples(
                        query, project, service, revision, region, start, end, window
                    )
        return samples

    def _window_samples(self, query, project, service, revision, region, start, end, window):
        samples = []
        if query.metric_type == REQUEST_COUNT:
            for code_class, count in (window.get("requests") or {}).items():
                if count:
                    key = self._run_key(
                        REQUEST_COUNT, project, service, revision, region, code_class
                    )
                    samples.append(Sample(key, Kind.DELTA, ValueType.INT64, start, end, int(count)))
        elif window.get("latencies_ms"):
            key = self._run_key(REQUEST_LATENCIES, project, service, revision, region)
            samples.append(
                Sample(
                    key,
                    Kind.DELTA,
                    ValueType.DISTRIBUTION,
                    start,
                    end,
                    Distribution([float(v) for v in window["latencies_ms"]]),
                )
            )
        return [s for s in samples if query.matches(s.key)]


def _unit(query: Filter) -> str:
    return {REQUEST_LATENCIES: "ms", REQUEST_COUNT: "1"}.get(query.metric_type, "")


def _project(name: str) -> str:
    if not name.startswith("projects/") or "/" in name[len("projects/") :]:
        raise invalid(f"name must be projects/PROJECT, got {name!r}")
    return name[len("projects/") :]
