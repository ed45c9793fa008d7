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

import dataclasses
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.api import distribution_pb2, metric_pb2, monitored_resource_pb2
from google.cloud import monitoring_v3
from google.protobuf import empty_pb2

from tests.fakes.common import ApiError, FailurePlan, to_datetime, to_epoch
from tests.fakes.common import status_code as _status_code

SERVICE = "google.monitoring.v3.MetricService"
REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
RUN_RESOURCE = "cloud_run_revision"
_CODES = {"1xx": "100", "2xx": "200", "3xx": "302", "4xx": "404", "5xx": "500"}

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
Kind = metric_pb2.MetricDescriptor.MetricKind
ValueType = metric_pb2.MetricDescriptor.ValueType
Script = Callable[..., dict | None]


def _invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message)


class Distribution:
    """A distribution with Cloud Run's exponential buckets, plus exact min/max."""

    GROWTH, SCALE, BUCKETS = 1.4, 1.0, 100

    def __init__(self, values: list[float] = ()):
        self.count, self.total, self.squares = 0, 0.0, 0.0
        self.counts = [0] * (self.BUCKETS + 2)
        self.low, self.high = math.inf, -math.inf
        for value in values:
            self.add(value)

    def add(self, value: float) -> None:
        """Add one value."""
        self.count += 1
        self.total += value
        self.squares += value * value
        self.low, self.high = min(self.low, value), max(self.high, value)
        self.counts[self._bucket(value)] += 1

    def merged(self, other: Distribution) -> Distribution:
        """A new distribution holding both populations."""
        out = Distribution()
        out.count, out.total = self.count + other.count, self.total + other.total
        out.squares = self.squares + other.squares
        out.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        out.low, out.high = min(self.low, other.low), max(self.high, other.high)
        return out

    @property
    def mean(self) -> float:
        """Arithmetic mean (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, pct: float) -> float:
        """The pct-th percentile read from the buckets (linear within a bucket)."""
        if not self.count:
            return 0.0
        rank, seen = pct / 100.0 * self.count, 0
        for index, count in enumerate(self.counts):
            if count and seen + count >= rank:
                lower, upper = self._bounds(index)
                value = lower + (upper - lower) * max(rank - seen, 0) / count
                return min(max(value, self.low), self.high)
            seen += count
        return self.high

    def to_pb(self) -> distribution_pb2.Distribution:
        """The google.api.Distribution Cloud Run reports."""
        counts = list(self.counts)
        while counts and counts[-1] == 0:
            counts.pop()
        deviation = max(self.squares - self.count * self.mean * self.mean, 0.0)
        return distribution_pb2.Distribution(
            count=self.count, mean=self.mean, sum_of_squared_deviation=deviation,
            bucket_options=distribution_pb2.Distribution.BucketOptions(
                exponential_buckets=distribution_pb2.Distribution.BucketOptions.Exponential(
                    num_finite_buckets=self.BUCKETS, growth_factor=self.GROWTH,
                    scale=self.SCALE)),
            bucket_counts=counts,
        )

    @classmethod
    def from_pb(cls, pb: distribution_pb2.Distribution) -> Distribution:
        """Approximate a written distribution by its count and mean."""
        return cls([pb.mean] * int(pb.count))

    def _bucket(self, value: float) -> int:
        if value < self.SCALE:
            return 0
        index = int(math.log(value / self.SCALE) / math.log(self.GROWTH)) + 1
        while index > 1 and value < self.SCALE * self.GROWTH ** (index - 1):
            index -= 1
        while index <= self.BUCKETS and value >= self.SCALE * self.GROWTH**index:
            index += 1
        return min(index, self.BUCKETS + 1)

    def _bounds(self, index: int) -> tuple[float, float]:
        if index == 0:
            return min(self.low, 0.0), self.SCALE
        lower = self.SCALE * self.GROWTH ** (index - 1)
        upper = self.SCALE * self.GROWTH**index if index <= self.BUCKETS else self.high
        return lower, upper


@dataclasses.dataclass(frozen=True)
class _Key:
    metric_type: str
    resource_type: str
    resource_labels: tuple[tuple[str, str], ...]
    metric_labels: tuple[tuple[str, str], ...]

    def label(self, scope: str, name: str) -> str | None:
        labels = self.resource_labels if scope == "resource" else self.metric_labels
        return dict(labels).get(name)


@dataclasses.dataclass
class _Sample:
    key: _Key
    kind: int
    value_type: int
    start: float
    end: float
    value: Any


@dataclasses.dataclass
class _Filter:
    metric_type: str
    conditions: list[tuple[str, str, str, Any]]  # (scope, label, op, operand)
    type_conditions: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def matches(self, key: _Key) -> bool:
        for scope, label, op, operand in self.conditions:
            actual = key.resource_type if (scope, label) == ("resource", "type") else \
                key.label(scope, label)
            if not _compare(actual, op, operand):
                return False
        return True

    def values(self, scope: str, label: str) -> list[str] | None:
        """Values the filter allows for a label when it pins them (= or one_of), else None."""
        allowed = None
        for c_scope, c_label, op, operand in self.conditions:
            if (c_scope, c_label) == (scope, label) and op in ("=", "one_of"):
                values = [operand] if op == "=" else list(operand)
                allowed = values if allowed is None else [v for v in allowed if v in values]
        return allowed


class FakeMonitoring:
    """Cloud Monitoring time series: scripted Cloud Run metrics and written custom metrics."""

    def __init__(self, run_state=None):
        self.written: list[dict] = []
        self.queries: list[dict] = []
        self._run_state = run_state
        self._failures = FailurePlan()
        self._lock = threading.RLock()
        self._samples: list[_Sample] = []
        self._descriptors: dict[str, metric_pb2.MetricDescriptor] = {}
        self._script: Script | None = None

    # test controls ---------------------------------------------------------------------

    def add_requests(self, project: str, service: str, revision: str, at: Any = None,
                     count: int = 1, response_code_class: str = "2xx", *,
                     location: str | None = None, response_code: str | None = None) -> None:
        """Record count requests answered by revision at time at (datetime or epoch)."""
        key = self._run_key(REQUEST_COUNT, project, service, revision, location,
                            response_code_class, response_code)
        end = time.time() if at is None else to_epoch(at)
        self._add(_Sample(key, Kind.DELTA, ValueType.INT64, end, end, int(count)))

    def add_latencies(self, project: str, service: str, revision: str, at: Any = None,
                      values_ms: list[float] = (), response_code_class: str = "2xx", *,
                      location: str | None = None, response_code: str | None = None) -> None:
        """Record request latencies (ms) of revision at time at as one distribution point."""
        key = self._run_key(REQUEST_LATENCIES, project, service, revision, location,
                            response_code_class, response_code)
        end = time.time() if at is None else to_epoch(at)
        dist = Distribution([float(v) for v in values_ms])
        self._add(_Sample(key, Kind.DELTA, ValueType.DISTRIBUTION, end, end, dist))

    def script(self, fn: Script | None) -> None:
        """Compute Cloud Run windows on demand: fn(project, service, revision, start, end).

        fn returns None or {"requests": {"2xx": n, "5xx": m}, "latencies_ms": [...]}; start
        and end are aware UTC datetimes of one aligned period. None removes the script.
        """
        with self._lock:
            self._script = fn

    def fail_next(self, n: int = 1, code: Any = grpc.StatusCode.UNAVAILABLE,
                  method: str | None = "ListTimeSeries") -> None:
        """Fail the next n calls of method (None: any MetricService method)."""
        self._failures.fail_next(method, _status_code(code), n)

    def fail_all(self, enabled: bool = True, code: Any = grpc.StatusCode.UNAVAILABLE,
                 method: str | None = "ListTimeSeries") -> None:
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
                "ListTimeSeries": (self.list_time_series, m.ListTimeSeriesRequest,
                                   m.ListTimeSeriesResponse),
                "CreateTimeSeries": (self.create_time_series, m.CreateTimeSeriesRequest,
                                     empty_pb2.Empty),
                "CreateMetricDescriptor": (self.create_metric_descriptor,
                                           m.CreateMetricDescriptorRequest,
                                           metric_pb2.MetricDescriptor),
                "GetMetricDescriptor": (self.get_metric_descriptor,
                                        m.GetMetricDescriptorRequest,
                                        metric_pb2.MetricDescriptor),
                "ListMetricDescriptors": (self.list_metric_descriptors,
                                          m.ListMetricDescriptorsRequest,
                                          m.ListMetricDescriptorsResponse),
            }
        }

    def list_time_series(self, request: monitoring_v3.ListTimeSeriesRequest):
        """ListTimeSeries over the supported filter/aggregation subset (module docstring)."""
        self._failures.check("ListTimeSeries")
        project = _project(request.name)
        query = parse_filter(request.filter)
        if request.order_by or "secondary_aggregation" in request:
            raise _invalid("order_by and secondary_aggregation are not supported by the fake")
        end = to_epoch(request.interval.end_time) if request.interval.end_time else time.time()
        start = to_epoch(request.interval.start_time) if request.interval.start_time else end
        if start > end:
            raise _invalid("interval.start_time must not be later than interval.end_time")
        agg = request.aggregation
        aligner = Aligner(int(agg.per_series_aligner))
        reducer = Reducer(int(agg.cross_series_reducer))
        period = agg.alignment_period.total_seconds() if agg.alignment_period else 0.0
        _check_aggregation(aligner, reducer, period)
        group_by = [_group_field(f) for f in agg.group_by_fields]
        with self._lock:
            self.queries.append({"project": project, "filter": request.filter,
                                 "start": to_datetime(start), "end": to_datetime(end),
                                 "aligner": aligner.name, "reducer": reducer.name,
                                 "group_by": list(agg.group_by_fields)})
            periods = _periods(start, end, period) if aligner != Aligner.ALIGN_NONE else \
                [(start, end)]
            samples = [s for s in self._stored(project, query) if _inside(s, start, end)]
        samples += self._scripted(project, query, periods)
        if aligner == Aligner.ALIGN_NONE:
            series = _raw_series(samples)
        else:
            series = _align(samples, aligner, periods, period)
            if reducer != Reducer.REDUCE_NONE:
                series = _reduce(series, reducer, group_by)
        headers_only = int(request.view) == int(
            monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS)
        out = [_series_pb(s, headers_only) for s in sorted(series, key=lambda s: s["sort"])]
        return monitoring_v3.ListTimeSeriesResponse(time_series=out, unit=_unit(query))

    def create_time_series(self, request: monitoring_v3.CreateTimeSeriesRequest):
        """CreateTimeSeries: exactly one point per series; recorded in .written."""
        self._failures.check("CreateTimeSeries")
        project = _project(request.name)
        if not request.time_series or len(request.time_series) > 200:
            raise _invalid("a request writes 1..200 time series")
        samples = []
        for ts in request.time_series:
            if len(ts.points) != 1:
                raise _invalid(f"time series {ts.metric.type} must contain exactly one point")
            if not ts.metric.type:
                raise _invalid("metric.type is required")
            point = ts.points[0]
            which = monitoring_v3.TypedValue.pb(point.value).WhichOneof("value")
            if which is None:
                raise _invalid("the point has no value")
            raw = getattr(point.value, which)
            value = Distribution.from_pb(raw) if which == "distribution_value" else raw
            end = to_epoch(point.interval.end_time)
            start = to_epoch(point.interval.start_time) if point.interval.start_time else end
            kind = int(ts.metric_kind) or Kind.GAUGE
            value_type = {"bool_value": ValueType.BOOL, "int64_value": ValueType.INT64,
                          "double_value": ValueType.DOUBLE, "string_value": ValueType.STRING,
                          "distribution_value": ValueType.DISTRIBUTION}[which]
            resource_labels = dict(ts.resource.labels)
            resource_labels.setdefault("project_id", project)
            key = _Key(ts.metric.type, ts.resource.type or "global",
                       tuple(sorted(resource_labels.items())),
                       tuple(sorted(dict(ts.metric.labels).items())))
            samples.append(_Sample(key, kind, value_type, start, end, value))
        with self._lock:
            for sample in samples:
                self._samples.append(sample)
                value = sample.value
                if isinstance(value, Distribution):
                    value = {"count": value.count, "mean": value.mean}
                self.written.append({
                    "project": project, "metric_type": sample.key.metric_type,
                    "metric_labels": dict(sample.key.metric_labels),
                    "resource_type": sample.key.resource_type,
                    "resource_labels": dict(sample.key.resource_labels),
                    "metric_kind": Kind.Name(sample.kind),
                    "value_type": ValueType.Name(sample.value_type),
                    "value": value, "time": to_datetime(sample.end)})
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
            found = [d for name, d in sorted(self._descriptors.items())
                     if name.startswith(request.name + "/")
                     and (query is None or _type_matches(query, d.type))]
        return monitoring_v3.ListMetricDescriptorsResponse(metric_descriptors=found)

    # data ------------------------------------------------------------------------------

    def _add(self, sample: _Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def _run_key(self, metric_type, project, service, revision, location=None,
                 code_class="2xx", code=None) -> _Key:
        if location is None:
            regions = [r for r, rev in self._run_revisions(project, service) if rev == revision]
            location = regions[0] if regions else "us-central1"
        resource = {"project_id": project, "service_name": service, "revision_name": revision,
                    "location": location, "configuration_name": service}
        metric = {"response_code_class": code_class,
                  "response_code": code or _CODES.get(code_class, "200")}
        return _Key(metric_type, RUN_RESOURCE, tuple(sorted(resource.items())),
                    tuple(sorted(metric.items())))

    def _run_revisions(self, project: str, service: str) -> list[tuple[str, str]]:
        return self._run_state.revisions_of(project, service) if self._run_state else []

    def _stored(self, project: str, query: _Filter) -> list[_Sample]:
        return [s for s in self._samples
                if s.key.metric_type == query.metric_type
                and s.key.label("resource", "project_id") == project and query.matches(s.key)]

    def _scripted(self, project: str, query: _Filter, periods) -> list[_Sample]:
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
                    window = script(project, service, revision, to_datetime(start),
                                    to_datetime(end)) or {}
                    samples += self._window_samples(query, project, service, revision, region,
                                                    start, end, window)
        return samples

    def _window_samples(self, query, project, service, revision, region, start, end, window):
        samples = []
        if query.metric_type == REQUEST_COUNT:
            for code_class, count in (window.get("requests") or {}).items():
                if count:
                    key = self._run_key(REQUEST_COUNT, project, service, revision, region,
                                        code_class)
                    samples.append(_Sample(key, Kind.DELTA, ValueType.INT64, start, end,
                                           int(count)))
        elif window.get("latencies_ms"):
            key = self._run_key(REQUEST_LATENCIES, project, service, revision, region)
            samples.append(_Sample(key, Kind.DELTA, ValueType.DISTRIBUTION, start, end,
                                   Distribution([float(v) for v in window["latencies_ms"]])))
        return [s for s in samples if query.matches(s.key)]


# filter ----------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|=|\(|\)|,)'
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_./-]*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _invalid(f"cannot parse filter at {text[pos:]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def parse_filter(text: str, require_type: bool = True) -> _Filter:
    """Parse the supported Monitoring filter subset; INVALID_ARGUMENT otherwise."""
    tokens = _tokens(text)
    metric_types, conditions, i = [], [], 0
    while True:
        if i + 2 >= len(tokens):
            raise _invalid(f"incomplete filter term in {text!r}")
        (kind, field), (_, op) = tokens[i], tokens[i + 1]
        if kind != "word" or op not in ("=", "!="):
            raise _invalid(f"expected 'field = value' in filter, got {field!r} {op!r}")
        operand, i = _operand(tokens, i + 2, text)
        scope, label = _field(field)
        if isinstance(operand, tuple):
            if op != "=":
                raise _invalid("functions are supported only with '='")
            op, operand = operand
        if (scope, label) == ("metric", "type"):
            if op not in ("=", "starts_with"):
                raise _invalid("metric.type must be compared with '=' or starts_with()")
            metric_types.append((op, operand))
        else:
            conditions.append((scope, label, op, operand))
        if i == len(tokens):
            break
        if tokens[i] != ("word", "AND"):
            raise _invalid(f"the fake supports only AND between terms, got {tokens[i][1]!r}")
        i += 1
    exact = [value for op, value in metric_types if op == "="]
    if require_type and (len(exact) != 1 or len(metric_types) != 1):
        raise _invalid("the filter must name exactly one metric.type with '='")
    return _Filter(exact[0] if exact else "", conditions, metric_types)


def _operand(tokens, i, text):
    if i >= len(tokens):
        raise _invalid(f"missing value in filter {text!r}")
    kind, value = tokens[i]
    if kind == "str":
        return value, i + 1
    if kind == "word" and value in ("one_of", "starts_with"):
        if i + 1 >= len(tokens) or tokens[i + 1] != ("op", "("):
            raise _invalid(f"expected '(' after {value}")
        args, j = [], i + 2
        while j < len(tokens) and tokens[j] != ("op", ")"):
            if tokens[j][0] != "str":
                raise _invalid(f"{value}() takes quoted strings")
            args.append(tokens[j][1])
            j += 1
            if j < len(tokens) and tokens[j] == ("op", ","):
                j += 1
        if j >= len(tokens) or not args or (value == "starts_with" and len(args) != 1):
            raise _invalid(f"malformed {value}(...) in filter")
        return (value, tuple(args) if value == "one_of" else args[0]), j + 1
    raise _invalid(f"unsupported value {value!r} in filter (quote strings)")


def _field(field: str) -> tuple[str, str]:
    if field in ("metric.type", "resource.type"):
        return tuple(field.split("."))
    for prefix, scope in (("resource.labels.", "resource"), ("resource.label.", "resource"),
                          ("metric.labels.", "metric"), ("metric.label.", "metric")):
        if field.startswith(prefix) and len(field) > len(prefix):
            return scope, field[len(prefix):]
    raise _invalid(f"unsupported filter field {field!r}")


def _compare(actual: str | None, op: str, operand: Any) -> bool:
    if op == "=":
        return actual == operand
    if op == "!=":
        return actual != operand
    if op == "one_of":
        return actual in operand
    return actual is not None and actual.startswith(operand)  # starts_with


def _type_matches(query: _Filter, metric_type: str) -> bool:
    return all(_compare(metric_type, op, value) for op, value in query.type_conditions)


def _group_field(field: str) -> tuple[str, str]:
    scope, label = _field(field)
    if (scope, label) == ("metric", "type"):
        raise _invalid("metric.type is not a group_by field")
    return scope, label


# aggregation ------------------------------------------------------------------------------

_ALIGNERS = {Aligner.ALIGN_NONE, Aligner.ALIGN_DELTA, Aligner.ALIGN_SUM, Aligner.ALIGN_RATE,
             Aligner.ALIGN_MEAN, Aligner.ALIGN_MIN, Aligner.ALIGN_MAX, Aligner.ALIGN_COUNT,
             Aligner.ALIGN_PERCENTILE_99, Aligner.ALIGN_PERCENTILE_95,
             Aligner.ALIGN_PERCENTILE_50, Aligner.ALIGN_PERCENTILE_05}
_REDUCERS = {Reducer.REDUCE_NONE, Reducer.REDUCE_SUM, Reducer.REDUCE_MEAN, Reducer.REDUCE_MIN,
             Reducer.REDUCE_MAX, Reducer.REDUCE_COUNT, Reducer.REDUCE_PERCENTILE_99,
             Reducer.REDUCE_PERCENTILE_95, Reducer.REDUCE_PERCENTILE_50,
             Reducer.REDUCE_PERCENTILE_05}


def _check_aggregation(aligner: Aligner, reducer: Reducer, period: float) -> None:
    if aligner not in _ALIGNERS:
        raise _invalid(f"per_series_aligner {aligner.name} is not supported by the fake")
    if reducer not in _REDUCERS:
        raise _invalid(f"cross_series_reducer {reducer.name} is not supported by the fake")
    if reducer != Reducer.REDUCE_NONE and aligner == Aligner.ALIGN_NONE:
        raise _invalid("cross_series_reducer requires a per_series_aligner other than ALIGN_NONE")
    if aligner != Aligner.ALIGN_NONE and period < 60:
        raise _invalid("aggregation.alignment_period must be at least 60 seconds when a "
                       "per_series_aligner is set")


def _periods(start: float, end: float, period: float) -> list[tuple[float, float]]:
    """Alignment periods (newest first) ending at end, clipped to the interval."""
    if end <= start:
        return [(start, end)]
    periods, stop = [], end
    while stop > start:
        periods.append((max(start, stop - period), stop))
        stop -= period
    return periods


def _inside(sample: _Sample, start: float, end: float) -> bool:
    return start < sample.end <= end or sample.end == start == end


def _percent(value: int) -> float | None:
    name = value.name
    return float(name.rsplit("_", 1)[-1]) if "PERCENTILE" in name else None


def _raw_series(samples: list[_Sample]) -> list[dict]:
    series: dict[_Key, dict] = {}
    for sample in sorted(samples, key=lambda s: s.end, reverse=True):
        entry = series.setdefault(sample.key, _new_series(sample.key, sample.kind,
                                                          sample.value_type))
        entry["points"].append((sample.start, sample.end, sample.value))
    return list(series.values())


def _align(samples, aligner, periods, period) -> list[dict]:
    by_key: dict[_Key, list[_Sample]] = {}
    for sample in samples:
        by_key.setdefault(sample.key, []).append(sample)
    series = []
    for key, members in by_key.items():
        kind, value_type = members[0].kind, members[0].value_type
        out_kind, out_type = _aligned_kind(aligner, kind, value_type, key.metric_type)
        entry = _new_series(key, out_kind, out_type)
        for p_start, p_end in periods:
            inside = sorted((s for s in members if p_start < s.end <= p_end
                             or s.end == p_start == p_end), key=lambda s: s.end)
            if inside:
                value = _align_values(aligner, kind, [s.value for s in inside], period)
                entry["points"].append((p_start, p_end, value))
        if entry["points"]:
            series.append(entry)
    return series


def _aligned_kind(aligner, kind, value_type, metric_type) -> tuple[int, int]:
    dist = value_type == ValueType.DISTRIBUTION
    numeric = value_type in (ValueType.INT64, ValueType.DOUBLE)
    if not (dist or numeric or aligner == Aligner.ALIGN_COUNT):
        raise _invalid(f"{aligner.name} cannot be applied to {ValueType.Name(value_type)} "
                       f"values of {metric_type}")
    if aligner in (Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE) and kind == Kind.GAUGE:
        raise _invalid(f"{aligner.name} cannot be applied to GAUGE metric {metric_type}")
    if aligner == Aligner.ALIGN_RATE and dist:
        raise _invalid("The aligner cannot be applied to metrics with kind DELTA and value "
                       "type DISTRIBUTION.")
    if aligner in (Aligner.ALIGN_MIN, Aligner.ALIGN_MAX) and dist:
        raise _invalid(f"{aligner.name} cannot be applied to DISTRIBUTION values")
    cumulative_ok = (Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE, Aligner.ALIGN_COUNT)
    if kind == Kind.CUMULATIVE and aligner not in cumulative_ok:
        raise _invalid(f"{aligner.name} cannot be applied to CUMULATIVE metric {metric_type}")
    if aligner == Aligner.ALIGN_DELTA:
        return Kind.DELTA, value_type
    if aligner == Aligner.ALIGN_SUM:
        return kind, value_type
    if aligner == Aligner.ALIGN_COUNT:
        return Kind.GAUGE, ValueType.INT64
    if aligner in (Aligner.ALIGN_MIN, Aligner.ALIGN_MAX):
        return Kind.GAUGE, value_type
    return Kind.GAUGE, ValueType.DOUBLE  # RATE, MEAN, PERCENTILE_*


def _align_values(aligner, kind, values: list, period: float):
    if aligner == Aligner.ALIGN_COUNT:
        return len(values)
    if kind == Kind.CUMULATIVE:  # DELTA or RATE of a cumulative series
        delta = values[-1] - values[0] if len(values) > 1 else values[-1]
        return delta / period if aligner == Aligner.ALIGN_RATE else delta
    if aligner in (Aligner.ALIGN_DELTA, Aligner.ALIGN_SUM):
        return _sum(values)
    if aligner == Aligner.ALIGN_RATE:
        return _sum(values) / period
    return _summary(aligner, values)


def _reduce(series: list[dict], reducer, group_by) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for entry in series:
        key: _Key = entry["key"]
        group = (key.metric_type, key.resource_type) + tuple(
            key.resource_type if f == ("resource", "type") else key.label(*f) for f in group_by)
        groups.setdefault(group, []).append(entry)
    out = []
    for members in groups.values():
        first: _Key = members[0]["key"]
        resource = {f[1]: first.label(*f) for f in group_by
                    if f[0] == "resource" and f[1] != "type" and first.label(*f) is not None}
        metric = {f[1]: first.label(*f) for f in group_by
                  if f[0] == "metric" and first.label(*f) is not None}
        key = _Key(first.metric_type, first.resource_type, tuple(sorted(resource.items())),
                   tuple(sorted(metric.items())))
        kind, value_type = members[0]["kind"], members[0]["value_type"]
        if reducer == Reducer.REDUCE_COUNT:
            kind, value_type = Kind.GAUGE, ValueType.INT64
        elif reducer in (Reducer.REDUCE_MIN, Reducer.REDUCE_MAX):
            if value_type == ValueType.DISTRIBUTION:
                raise _invalid(f"{reducer.name} cannot be applied to DISTRIBUTION values")
            kind = Kind.GAUGE
        elif reducer != Reducer.REDUCE_SUM:
            kind, value_type = Kind.GAUGE, ValueType.DOUBLE
        entry = _new_series(key, kind, value_type)
        by_period: dict[tuple[float, float], list] = {}
        for member in members:
            for p_start, p_end, value in member["points"]:
                by_period.setdefault((p_start, p_end), []).append(value)
        for (p_start, p_end), values in sorted(by_period.items(), reverse=True):
            entry["points"].append((p_start, p_end, _reduce_values(reducer, values)))
        out.append(entry)
    return out


def _reduce_values(reducer, values: list):
    if reducer == Reducer.REDUCE_COUNT:
        return len(values)
    if reducer == Reducer.REDUCE_SUM:
        return _sum(values)
    return _summary(reducer, values)


def _sum(values: list):
    if isinstance(values[0], Distribution):
        total = Distribution()
        for value in values:
            total = total.merged(value)
        return total
    return sum(values)


def _summary(op, values: list) -> float:
    """MEAN / MIN / MAX / PERCENTILE_* of numbers or of the merged distribution."""
    name = op.name
    if isinstance(values[0], Distribution):
        merged = _sum(values)
        return merged.mean if name.endswith("MEAN") else merged.percentile(_percent(op))
    if name.endswith("MEAN"):
        return sum(values) / len(values)
    if name.endswith("MIN"):
        return min(values)
    if name.endswith("MAX"):
        return max(values)
    ordered, pct = sorted(float(v) for v in values), _percent(op)
    position = pct / 100.0 * (len(ordered) - 1)
    low = int(math.floor(position))
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# output ----------------------------------------------------------------------------------

def _new_series(key: _Key, kind: int, value_type: int) -> dict:
    return {"key": key, "kind": kind, "value_type": value_type, "points": [],
            "sort": (key.resource_labels, key.metric_labels)}


def _typed(value_type: int, value) -> monitoring_v3.TypedValue:
    if value_type == ValueType.DISTRIBUTION:
        return monitoring_v3.TypedValue(distribution_value=value.to_pb())
    if value_type == ValueType.INT64:
        return monitoring_v3.TypedValue(int64_value=int(value))
    if value_type == ValueType.BOOL:
        return monitoring_v3.TypedValue(bool_value=bool(value))
    if value_type == ValueType.STRING:
        return monitoring_v3.TypedValue(string_value=str(value))
    return monitoring_v3.TypedValue(double_value=float(value))


def _series_pb(entry: dict, headers_only: bool) -> monitoring_v3.TimeSeries:
    key: _Key = entry["key"]
    points = []
    if not headers_only:
        for start, end, value in entry["points"]:
            begin = end if entry["kind"] == Kind.GAUGE else start
            points.append(monitoring_v3.Point(
                interval=monitoring_v3.TimeInterval(start_time=to_datetime(begin),
                                                    end_time=to_datetime(end)),
                value=_typed(entry["value_type"], value)))
    return monitoring_v3.TimeSeries(
        metric=metric_pb2.Metric(type=key.metric_type, labels=dict(key.metric_labels)),
        resource=monitored_resource_pb2.MonitoredResource(
            type=key.resource_type, labels=dict(key.resource_labels)),
        metric_kind=entry["kind"],
        value_type=entry["value_type"],
        points=points,
    )


def _unit(query: _Filter) -> str:
    return {REQUEST_LATENCIES: "ms", REQUEST_COUNT: "1"}.get(query.metric_type, "")


def _project(name: str) -> str:
    if not name.startswith("projects/") or "/" in name[len("projects/"):]:
        raise _invalid(f"name must be projects/PROJECT, got {name!r}")
    return name[len("projects/"):]
