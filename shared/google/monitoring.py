"""Cloud Monitoring v3 behind a small class: read Cloud Run revision figures, write custom metrics.

Reading one service's window costs exactly two ListTimeSeries calls (request counts by
revision and response class; latency distributions by revision), whatever the number
of revisions asked for, so the canary and stable revisions come back together.
Percentiles are computed from the distribution's own buckets (exponential as Cloud
Run reports them; linear and explicit ones too).

`MONITORING_API_ENDPOINT=host:port` points the real client at a plaintext gRPC endpoint
(the project's fake) with anonymous credentials; unset means Google with ADC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.config import Settings
from shared.errors import ServiceUnavailable
from shared.google.clients import google_client
from shared.lazy import Lazy

if TYPE_CHECKING:
    from shared.models.canary import Sample

REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
CUSTOM_PREFIX = "custom.googleapis.com/deployq/"
MAX_SERIES_PER_WRITE = 200
# A failed query is not retried here: the check is Inconclusive, the next one asks again.
QUERY_TIMEOUT_SECONDS = 20
log = logs.get("monitoring")


class MonitoringError(ServiceUnavailable):
    """A Monitoring query failed; the message says how."""

    code = "monitoring_unavailable"


@dataclass(frozen=True)
class MetricPoint:
    """One point of a deployq custom metric (`custom.googleapis.com/deployq/<name>`)."""

    name: str
    value: float | int
    labels: dict[str, str]
    at: datetime


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def revision_filter(metric_type: str, service: str, region: str, revisions: list[str]) -> str:
    """The ListTimeSeries filter of some revisions of one Cloud Run service."""
    names = ", ".join(_quote(r) for r in revisions)
    return (
        f'metric.type = {_quote(metric_type)} AND resource.type = "cloud_run_revision"'
        f" AND resource.labels.service_name = {_quote(service)}"
        f" AND resource.labels.location = {_quote(region)}"
        f" AND resource.labels.revision_name = one_of({names})"
    )


def bucket_bounds(options: Any, count: int) -> list[tuple[float, float]]:
    """(lower, upper) of each bucket of a google.api.Distribution's BucketOptions.

    Bucket 0 is the underflow bucket and the last one the overflow bucket; their open
    ends are given as 0 and +inf.
    """
    which = options.WhichOneof("options")
    if which == "exponential_buckets":
        exp = options.exponential_buckets
        edges = [exp.scale * exp.growth_factor**i for i in range(exp.num_finite_buckets + 1)]
    elif which == "linear_buckets":
        lin = options.linear_buckets
        edges = [lin.offset + lin.width * i for i in range(lin.num_finite_buckets + 1)]
    elif which == "explicit_buckets":
        edges = list(options.explicit_buckets.bounds)
    else:
        return [(0.0, math.inf)] * count
    bounds = [(min(0.0, edges[0]) if edges else 0.0, edges[0] if edges else math.inf)]
    bounds += [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    bounds.append((edges[-1] if edges else 0.0, math.inf))
    return bounds[:count] + [(bounds[-1][0], math.inf)] * max(0, count - len(bounds))


def percentile(
    options: Any, counts: list[int], pct: float, mean: float | None = None
) -> float | None:
    """The pct-th percentile of a bucketed distribution (linear within a bucket); None if empty.

    In the overflow bucket (no upper bound) the bucket's lower bound is the answer, or the
    mean when that is larger.
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = pct / 100.0 * total
    seen = 0
    bounds = bucket_bounds(options, len(counts))
    for (lower, upper), count in zip(bounds, counts, strict=False):
        if count and seen + count >= rank:
            if math.isinf(upper):
                return max(lower, mean or 0.0)
            return lower + (upper - lower) * max(rank - seen, 0.0) / count
        seen += count
    lower = bounds[-1][0] if bounds else 0.0
    return max(lower, mean or 0.0)


class _Merged:
    """Bucket counts of several points of one distribution series, merged."""

    def __init__(self):
        self.options = None
        self.counts: list[int] = []
        self.count = 0
        self.total = 0.0

    def add(self, dist) -> None:
        if not dist.count:
            return
        if self.options is None:
            self.options = dist.bucket_options
        counts = list(dist.bucket_counts)
        if len(counts) > len(self.counts):
            self.counts += [0] * (len(counts) - len(self.counts))
        for i, value in enumerate(counts):
            self.counts[i] += value
        self.count += dist.count
        self.total += dist.mean * dist.count

    def percentile(self, pct: float) -> float | None:
        if self.options is None or not self.count:
            return None
        value = percentile(self.options, self.counts, pct, self.total / self.count)
        return None if value is None else round(value, 3)


class Monitoring:
    """The Monitoring calls of canary checks and deployq's custom metrics."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = Lazy(self._make_client)

    def _make_client(self):
        from google.cloud import monitoring_v3

        endpoint = self.settings.monitoring_api_endpoint
        return google_client(monitoring_v3.MetricServiceClient, endpoint)

    @property
    def client(self):
        return self._client()

    def read_revisions(
        self,
        project: str,
        region: str,
        service: str,
        revisions: list[str],
        start: datetime,
        end: datetime,
    ) -> dict[str, Sample]:
        """Each revision's figures over (start, end]: two ListTimeSeries calls in all.

        A revision without data has request_count 0 and null rates/percentiles. Raises
        MonitoringError when a query fails.
        """
        from google.api_core import exceptions as gexc

        # The canary's models load with the canary (the events function writes metrics only).
        from shared.models.canary import Sample

        try:
            counts = self._counts(project, region, service, revisions, start, end)
            latencies = self._latencies(project, region, service, revisions, start, end)
        except gexc.GoogleAPIError as exc:
            code = getattr(exc, "grpc_status_code", None)
            what = code.name if code is not None else type(exc).__name__
            raise MonitoringError(f"{what}: {getattr(exc, 'message', None) or exc}") from None
        result = {}
        for revision in revisions:
            by_class = counts.get(revision, {})
            total = sum(by_class.values())
            errors = by_class.get("5xx", 0)
            merged = latencies.get(revision)
            result[revision] = Sample(
                request_count=total,
                error_rate_pct=round(100.0 * errors / total, 4) if total else None,
                p95_ms=merged.percentile(95) if merged else None,
                p99_ms=merged.percentile(99) if merged else None,
            )
        return result

    def _request(self, project, metric_type, region, service, revisions, start, end, group_by):
        from google.cloud import monitoring_v3

        seconds = max(60, math.ceil((end - start).total_seconds()))
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{project}",
            filter=revision_filter(metric_type, service, region, revisions),
            interval=monitoring_v3.TimeInterval(start_time=start, end_time=end),
            aggregation=monitoring_v3.Aggregation(
                alignment_period=timedelta(seconds=seconds),
                per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_DELTA,
                cross_series_reducer=monitoring_v3.Aggregation.Reducer.REDUCE_SUM,
                group_by_fields=group_by,
            ),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        )

    def _counts(self, project, region, service, revisions, start, end) -> dict[str, dict[str, int]]:
        request = self._request(
            project,
            REQUEST_COUNT,
            region,
            service,
            revisions,
            start,
            end,
            ["resource.label.revision_name", "metric.label.response_code_class"],
        )
        counts: dict[str, dict[str, int]] = {}
        for series in self.client.list_time_series(
            request=request, retry=None, timeout=QUERY_TIMEOUT_SECONDS
        ):
            revision = series.resource.labels.get("revision_name", "")
            code_class = series.metric.labels.get("response_code_class", "")
            total = 0
            for point in series.points:
                total += int(point.value.int64_value or point.value.double_value or 0)
            bucket = counts.setdefault(revision, {})
            bucket[code_class] = bucket.get(code_class, 0) + total
        return counts

    def _latencies(self, project, region, service, revisions, start, end) -> dict[str, _Merged]:
        request = self._request(
            project,
            REQUEST_LATENCIES,
            region,
            service,
            revisions,
            start,
            end,
            ["resource.label.revision_name"],
        )
        merged: dict[str, _Merged] = {}
        for series in self.client.list_time_series(
            request=request, retry=None, timeout=QUERY_TIMEOUT_SECONDS
        ):
            revision = series.resource.labels.get("revision_name", "")
            for point in series.points:
                merged.setdefault(revision, _Merged()).add(point.value.distribution_value)
        return merged

    def write(self, points: list[MetricPoint]) -> None:
        """Write custom metric points (GAUGE) to the control-plane project; never raises.

        Monitoring refuses two points of one series in a request, so each batch holds
        distinct series; batches hold at most 200.
        """
        if not points:
            return
        from google.api import metric_pb2
        from google.cloud import monitoring_v3

        batches: list[list[monitoring_v3.TimeSeries]] = [[]]
        seen: set[tuple] = set()
        for point in points:
            key = (point.name, tuple(sorted(point.labels.items())))
            if key in seen or len(batches[-1]) >= MAX_SERIES_PER_WRITE:
                batches.append([])
                seen = set()
            seen.add(key)
            value = (
                monitoring_v3.TypedValue(int64_value=int(point.value))
                if isinstance(point.value, int)
                else monitoring_v3.TypedValue(double_value=float(point.value))
            )
            batches[-1].append(
                monitoring_v3.TimeSeries(
                    metric={"type": CUSTOM_PREFIX + point.name, "labels": point.labels},
                    resource={"type": "global", "labels": {"project_id": self.settings.project}},
                    metric_kind=metric_pb2.MetricDescriptor.MetricKind.GAUGE,
                    points=[
                        monitoring_v3.Point(
                            interval=monitoring_v3.TimeInterval(end_time=point.at), value=value
                        )
                    ],
                )
            )
        for batch in batches:
            if not batch:
                continue
            try:
                self.client.create_time_series(
                    name=f"projects/{self.settings.project}",
                    time_series=batch,
                    retry=None,
                    timeout=QUERY_TIMEOUT_SECONDS,
                )
            except Exception as exc:  # noqa: BLE001 - metrics never fail a rollout
                log.warning("writing %d custom metric series failed: %s", len(batch), exc)
