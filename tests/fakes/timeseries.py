"""Time-series machinery of the Monitoring fake: Cloud Run distributions, the filter subset,
alignment, reduction and the TimeSeries messages (see monitoring.py for the supported subset)."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import grpc
from google.api import distribution_pb2, metric_pb2, monitored_resource_pb2
from google.cloud import monitoring_v3

from tests.fakes.common import ApiError, to_datetime

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
Kind = metric_pb2.MetricDescriptor.MetricKind
ValueType = metric_pb2.MetricDescriptor.ValueType


def invalid(message: str) -> ApiError:
    """An INVALID_ARGUMENT error with this message."""
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
            count=self.count,
            mean=self.mean,
            sum_of_squared_deviation=deviation,
            bucket_options=distribution_pb2.Distribution.BucketOptions(
                exponential_buckets=distribution_pb2.Distribution.BucketOptions.Exponential(
                    num_finite_buckets=self.BUCKETS, growth_factor=self.GROWTH, scale=self.SCALE
                )
            ),
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
class Key:
    """Identity of one time series: metric type, resource type and both label sets."""

    metric_type: str
    resource_type: str
    resource_labels: tuple[tuple[str, str], ...]
    metric_labels: tuple[tuple[str, str], ...]

    def label(self, scope: str, name: str) -> str | None:
        """A resource or metric label value, None when absent."""
        labels = self.resource_labels if scope == "resource" else self.metric_labels
        return dict(labels).get(name)


@dataclasses.dataclass
class Sample:
    """One stored point: (start, end] interval and an int, float, bool, str or Distribution."""

    key: Key
    kind: int
    value_type: int
    start: float
    end: float
    value: Any


@dataclasses.dataclass
class Filter:
    """A parsed filter: the metric type and label conditions joined by AND."""

    metric_type: str
    conditions: list[tuple[str, str, str, Any]]  # (scope, label, op, operand)
    type_conditions: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def matches(self, key: Key) -> bool:
        """True when a series satisfies every condition."""
        for scope, label, op, operand in self.conditions:
            actual = (
                key.resource_type
                if (scope, label) == ("resource", "type")
                else key.label(scope, label)
            )
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


# filter ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|=|\(|\)|,)'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_./-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid(f"cannot parse filter at {text[pos:]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def parse_filter(text: str, require_type: bool = True) -> Filter:
    """Parse the supported Monitoring filter subset; INVALID_ARGUMENT otherwise."""
    tokens = _tokens(text)
    metric_types, conditions, i = [], [], 0
    while True:
        if i + 2 >= len(tokens):
            raise invalid(f"incomplete filter term in {text!r}")
        (kind, field), (_, op) = tokens[i], tokens[i + 1]
        if kind != "word" or op not in ("=", "!="):
            raise invalid(f"expected 'field = value' in filter, got {field!r} {op!r}")
        operand, i = _operand(tokens, i + 2, text)
        scope, label = _field(field)
        if isinstance(operand, tuple):
            if op != "=":
                raise invalid("functions are supported only with '='")
            op, operand = operand
        if (scope, label) == ("metric", "type"):
            if op not in ("=", "starts_with"):
                raise invalid("metric.type must be compared with '=' or starts_with()")
            metric_types.append((op, operand))
        else:
            conditions.append((scope, label, op, operand))
        if i == len(tokens):
            break
        if tokens[i] != ("word", "AND"):
            raise invalid(f"the fake supports only AND between terms, got {tokens[i][1]!r}")
        i += 1
    exact = [value for op, value in metric_types if op == "="]
    if require_type and (len(exact) != 1 or len(metric_types) != 1):
        raise invalid("the filter must name exactly one metric.type with '='")
    return Filter(exact[0] if exact else "", conditions, metric_types)


def _operand(tokens, i, text):
    if i >= len(tokens):
        raise invalid(f"missing value in filter {text!r}")
    kind, value = tokens[i]
    if kind == "str":
        return value, i + 1
    if kind == "word" and value in ("one_of", "starts_with"):
        if i + 1 >= len(tokens) or tokens[i + 1] != ("op", "("):
            raise invalid(f"expected '(' after {value}")
        args, j = [], i + 2
        while j < len(tokens) and tokens[j] != ("op", ")"):
            if tokens[j][0] != "str":
                raise invalid(f"{value}() takes quoted strings")
            args.append(tokens[j][1])
            j += 1
            if j < len(tokens) and tokens[j] == ("op", ","):
                j += 1
        if j >= len(tokens) or not args or (value == "starts_with" and len(args) != 1):
            raise invalid(f"malformed {value}(...) in filter")
        return (value, tuple(args) if value == "one_of" else args[0]), j + 1
    raise invalid(f"unsupported value {value!r} in filter (quote strings)")


def _field(field: str) -> tuple[str, str]:
    if field in ("metric.type", "resource.type"):
        return tuple(field.split("."))
    for prefix, scope in (
        ("resource.labels.", "resource"),
        ("resource.label.", "resource"),
        ("metric.labels.", "metric"),
        ("metric.label.", "metric"),
    ):
        if field.startswith(prefix) and len(field) > len(prefix):
            return scope, field[len(prefix) :]
    raise invalid(f"unsupported filter field {field!r}")


def _compare(actual: str | None, op: str, operand: Any) -> bool:
    if op == "=":
        return actual == operand
    if op == "!=":
        return actual != operand
    if op == "one_of":
        return actual in operand
    return actual is not None and actual.startswith(operand)  # starts_with


def type_matches(query: Filter, metric_type: str) -> bool:
    """True when a metric type satisfies the filter's metric.type conditions."""
    return all(_compare(metric_type, op, value) for op, value in query.type_conditions)


def group_field(field: str) -> tuple[str, str]:
    """(scope, label) of a group_by field; INVALID_ARGUMENT when unsupported."""
    scope, label = _field(field)
    if (scope, label) == ("metric", "type"):
        raise invalid("metric.type is not a group_by field")
    return scope, label


# aggregation ------------------------------------------------------------------------------

_ALIGNERS = {
    Aligner.ALIGN_NONE,
    Aligner.ALIGN_DELTA,
    Aligner.ALIGN_SUM,
    Aligner.ALIGN_RATE,
    Aligner.ALIGN_MEAN,
    Aligner.ALIGN_MIN,
    Aligner.ALIGN_MAX,
    Aligner.ALIGN_COUNT,
    Aligner.ALIGN_PERCENTILE_99,
    Aligner.ALIGN_PERCENTILE_95,
    Aligner.ALIGN_PERCENTILE_50,
    Aligner.ALIGN_PERCENTILE_05,
}
_REDUCERS = {
    Reducer.REDUCE_NONE,
    Reducer.REDUCE_SUM,
    Reducer.REDUCE_MEAN,
    Reducer.REDUCE_MIN,
    Reducer.REDUCE_MAX,
    Reducer.REDUCE_COUNT,
    Reducer.REDUCE_PERCENTILE_99,
    Reducer.REDUCE_PERCENTILE_95,
    Reducer.REDUCE_PERCENTILE_50,
    Reducer.REDUCE_PERCENTILE_05,
}


def check_aggregation(aligner: Aligner, reducer: Reducer, period: float) -> None:
    """Reject aggregations outside the supported subset or that Monitoring refuses."""
    if aligner not in _ALIGNERS:
        raise invalid(f"per_series_aligner {aligner.name} is not supported by the fake")
    if reducer not in _REDUCERS:
        raise invalid(f"cross_series_reducer {reducer.name} is not supported by the fake")
    if reducer != Reducer.REDUCE_NONE and aligner == Aligner.ALIGN_NONE:
        raise invalid("cross_series_reducer requires a per_series_aligner other than ALIGN_NONE")
    if aligner != Aligner.ALIGN_NONE and period < 60:
        raise invalid(
            "aggregation.alignment_period must be at least 60 seconds when a "
            "per_series_aligner is set"
        )


def alignment_periods(start: float, end: float, period: float) -> list[tuple[float, float]]:
    """Alignment periods (newest first) ending at end, clipped to the interval."""
    if end <= start:
        return [(start, end)]
    periods, stop = [], end
    while stop > start:
        periods.append((max(start, stop - period), stop))
        stop -= period
    return periods


def inside(sample: Sample, start: float, end: float) -> bool:
    """True when the point's end lies in the read interval (start, end]."""
    return start < sample.end <= end or sample.end == start == end


def _percent(value: int) -> float | None:
    name = value.name
    return float(name.rsplit("_", 1)[-1]) if "PERCENTILE" in name else None


def raw_series(samples: list[Sample]) -> list[dict]:
    """Unaligned series (ALIGN_NONE): every point as stored, newest first."""
    series: dict[Key, dict] = {}
    for sample in sorted(samples, key=lambda s: s.end, reverse=True):
        entry = series.setdefault(
            sample.key, _new_series(sample.key, sample.kind, sample.value_type)
        )
        entry["points"].append((sample.start, sample.end, sample.value))
    return list(series.values())


def align(samples, aligner, periods, period) -> list[dict]:
    """Apply the per-series aligner: one point per period that has data."""
    by_key: dict[Key, list[Sample]] = {}
    for sample in samples:
        by_key.setdefault(sample.key, []).append(sample)
    series = []
    for key, members in by_key.items():
        kind, value_type = members[0].kind, members[0].value_type
        out_kind, out_type = _aligned_kind(aligner, kind, value_type, key.metric_type)
        entry = _new_series(key, out_kind, out_type)
        for p_start, p_end in periods:
            inside = sorted(
                (s for s in members if p_start < s.end <= p_end or s.end == p_start == p_end),
                key=lambda s: s.end,
            )
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
        raise invalid(
            f"{aligner.name} cannot be applied to {ValueType.Name(value_type)} "
            f"values of {metric_type}"
        )
    if aligner in (Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE) and kind == Kind.GAUGE:
        raise invalid(f"{aligner.name} cannot be applied to GAUGE metric {metric_type}")
    if aligner == Aligner.ALIGN_RATE and dist:
        raise invalid(
            "The aligner cannot be applied to metrics with kind DELTA and value type DISTRIBUTION."
        )
    if aligner in (Aligner.ALIGN_MIN, Aligner.ALIGN_MAX) and dist:
        raise invalid(f"{aligner.name} cannot be applied to DISTRIBUTION values")
    cumulative_ok = (Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE, Aligner.ALIGN_COUNT)
    if kind == Kind.CUMULATIVE and aligner not in cumulative_ok:
        raise invalid(f"{aligner.name} cannot be applied to CUMULATIVE metric {metric_type}")
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


def reduce_series(series: list[dict], reducer, group_by) -> list[dict]:
    """Apply the cross-series reducer per group_by group; only grouped labels remain."""
    groups: dict[tuple, list[dict]] = {}
    for entry in series:
        key: Key = entry["key"]
        group = (key.metric_type, key.resource_type) + tuple(
            key.resource_type if f == ("resource", "type") else key.label(*f) for f in group_by
        )
        groups.setdefault(group, []).append(entry)
    out = []
    for members in groups.values():
        first: Key = members[0]["key"]
        resource = {
            f[1]: first.label(*f)
            for f in group_by
            if f[0] == "resource" and f[1] != "type" and first.label(*f) is not None
        }
        metric = {
            f[1]: first.label(*f)
            for f in group_by
            if f[0] == "metric" and first.label(*f) is not None
        }
        key = Key(
            first.metric_type,
            first.resource_type,
            tuple(sorted(resource.items())),
            tuple(sorted(metric.items())),
        )
        kind, value_type = members[0]["kind"], members[0]["value_type"]
        if reducer == Reducer.REDUCE_COUNT:
            kind, value_type = Kind.GAUGE, ValueType.INT64
        elif reducer in (Reducer.REDUCE_MIN, Reducer.REDUCE_MAX):
            if value_type == ValueType.DISTRIBUTION:
                raise invalid(f"{reducer.name} cannot be applied to DISTRIBUTION values")
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


def _new_series(key: Key, kind: int, value_type: int) -> dict:
    return {
        "key": key,
        "kind": kind,
        "value_type": value_type,
        "points": [],
        "sort": (key.resource_labels, key.metric_labels),
    }


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


def series_pb(entry: dict, headers_only: bool) -> monitoring_v3.TimeSeries:
    """The TimeSeries message of a series (no points for the HEADERS view)."""
    key: Key = entry["key"]
    points = []
    if not headers_only:
        for start, end, value in entry["points"]:
            begin = end if entry["kind"] == Kind.GAUGE else start
            points.append(
                monitoring_v3.Point(
                    interval=monitoring_v3.TimeInterval(
                        start_time=to_datetime(begin), end_time=to_datetime(end)
                    ),
                    value=_typed(entry["value_type"], value),
                )
            )
    return monitoring_v3.TimeSeries(
        metric=metric_pb2.Metric(type=key.metric_type, labels=dict(key.metric_labels)),
        resource=monitored_resource_pb2.MonitoredResource(
            type=key.resource_type, labels=dict(key.resource_labels)
        ),
        metric_kind=entry["kind"],
        value_type=entry["value_type"],
        points=points,
    )
