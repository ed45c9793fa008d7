"""The canary verdict: a pure function of thresholds and metric samples.

Unhealthy (any threshold broken, or worse than stable by more than a margin) wins
over Inconclusive (too few requests, or metrics unreadable) over Healthy. No data
is never Healthy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.models.canary import Sample, Verdict

if TYPE_CHECKING:
    from shared.schemas.canary import CompareToStable, Thresholds


@dataclass(frozen=True)
class CanaryVerdict:
    """The verdict and the one line that explains it."""

    verdict: Verdict
    reason: str
    lacks_data: bool = False  # Inconclusive because of too few requests (not a failed query)
    query_failed: bool = False


def _num(value: float) -> str:
    """Figures as people read them: 5700, 0.25, 1.5."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def decide(
    thresholds: Thresholds,
    canary: Sample,
    stable: Sample | None = None,
    compare: CompareToStable | None = None,
    query_error: str | None = None,
) -> CanaryVerdict:
    """Judge one check of a canary.

    A threshold is broken when the figure is strictly greater than it; a figure that
    could not be read (None) breaks nothing. `compare` is skipped while the stable
    revision has fewer than `min_requests`. `query_error` (Monitoring failed) makes the
    check Inconclusive whatever the figures.
    """
    if query_error is not None:
        return CanaryVerdict(
            Verdict.inconclusive, f"Cloud Monitoring query failed: {query_error}", query_failed=True
        )
    broken: list[str] = []
    if canary.error_rate_pct is not None and canary.error_rate_pct > thresholds.max_error_rate_pct:
        broken.append(
            f"error rate {_num(canary.error_rate_pct)}% > {_num(thresholds.max_error_rate_pct)}%"
        )
    if canary.p95_ms is not None and canary.p95_ms > thresholds.max_p95_ms:
        broken.append(f"p95 {_num(canary.p95_ms)} ms > {_num(thresholds.max_p95_ms)} ms")
    if canary.p99_ms is not None and canary.p99_ms > thresholds.max_p99_ms:
        broken.append(f"p99 {_num(canary.p99_ms)} ms > {_num(thresholds.max_p99_ms)} ms")
    broken += _against_stable(thresholds, canary, stable, compare)
    requests = canary.request_count or 0
    if broken:
        return CanaryVerdict(Verdict.unhealthy, "; ".join(broken) + f" ({requests} requests)")
    if requests < thresholds.min_requests:
        return CanaryVerdict(
            Verdict.inconclusive,
            f"only {requests} requests, fewer than min_requests {thresholds.min_requests}",
            lacks_data=True,
        )
    parts = [f"{requests} requests", f"error rate {_num(canary.error_rate_pct or 0)}%"]
    if canary.p95_ms is not None:
        parts.append(f"p95 {_num(canary.p95_ms)} ms")
    if canary.p99_ms is not None:
        parts.append(f"p99 {_num(canary.p99_ms)} ms")
    return CanaryVerdict(Verdict.healthy, "within thresholds: " + ", ".join(parts))


def _against_stable(
    thresholds: Thresholds, canary: Sample, stable: Sample | None, compare: CompareToStable | None
) -> list[str]:
    if compare is None or stable is None:
        return []
    if (stable.request_count or 0) < thresholds.min_requests:
        return []
    broken = []
    margin = compare.error_rate_margin_pct
    if (
        margin is not None
        and canary.error_rate_pct is not None
        and stable.error_rate_pct is not None
    ):
        if canary.error_rate_pct - stable.error_rate_pct > margin:
            broken.append(
                f"error rate {_num(canary.error_rate_pct)}% > stable "
                f"{_num(stable.error_rate_pct)}% + {_num(margin)} points"
            )
    margin = compare.p99_margin_pct
    if margin is not None and canary.p99_ms is not None and stable.p99_ms is not None:
        if canary.p99_ms > stable.p99_ms * (1 + margin / 100):
            broken.append(
                f"p99 {_num(canary.p99_ms)} ms > stable {_num(stable.p99_ms)} ms + {_num(margin)}%"
            )
    return broken
