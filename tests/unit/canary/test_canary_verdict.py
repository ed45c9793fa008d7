"""The verdict of one check, table-driven: Unhealthy wins over Inconclusive over Healthy."""

from __future__ import annotations

import pytest

from shared.canary.verdict import Sample, decide
from shared.models.canary import Verdict
from shared.schemas.canary import CompareToStable, Thresholds

T = Thresholds(max_error_rate_pct=1.0, max_p95_ms=1000, max_p99_ms=2000, min_requests=100)
STABLE = Sample(request_count=1000, error_rate_pct=0.5, p95_ms=300, p99_ms=900)
COMPARE = CompareToStable(error_rate_margin_pct=1.0, p99_margin_pct=20)

CASES = [
    # (name, canary, stable, compare, query_error, verdict, words in reason)
    ("healthy", Sample(500, 0.2, 200, 800), None, None, None, Verdict.healthy, ["500 requests"]),
    (
        "no data at all",
        Sample(0, None, None, None),
        None,
        None,
        None,
        Verdict.inconclusive,
        ["only 0 requests", "min_requests 100"],
    ),
    ("nothing read (all null)", Sample(), None, None, None, Verdict.inconclusive, ["only 0"]),
    (
        "too few requests, all fine",
        Sample(99, 0.0, 10, 20),
        None,
        None,
        None,
        Verdict.inconclusive,
        ["only 99 requests"],
    ),
    ("exactly min_requests", Sample(100, 0.0, 10, 20), None, None, None, Verdict.healthy, []),
    (
        "error rate broken",
        Sample(500, 5.0, 200, 800),
        None,
        None,
        None,
        Verdict.unhealthy,
        ["error rate 5% > 1%"],
    ),
    (
        "error rate equal to limit is fine",
        Sample(500, 1.0, 200, 800),
        None,
        None,
        None,
        Verdict.healthy,
        [],
    ),
    (
        "p99 broken but p95 fine",
        Sample(500, 0.1, 300, 5700),
        None,
        None,
        None,
        Verdict.unhealthy,
        ["p99 5700 ms > 2000 ms"],
    ),
    (
        "p95 broken",
        Sample(500, 0.1, 1500, 1900),
        None,
        None,
        None,
        Verdict.unhealthy,
        ["p95 1500 ms > 1000 ms"],
    ),
    (
        "unhealthy wins over inconclusive",
        Sample(10, 50.0, 100, 200),
        None,
        None,
        None,
        Verdict.unhealthy,
        ["error rate 50% > 1%", "10 requests"],
    ),
    (
        "several broken, one line",
        Sample(500, 3.0, 1500, 2500),
        None,
        None,
        None,
        Verdict.unhealthy,
        ["error rate", "p95", "p99"],
    ),
    (
        "null latency breaks nothing",
        Sample(500, 0.0, None, None),
        None,
        None,
        None,
        Verdict.healthy,
        [],
    ),
    (
        "query failed",
        Sample(),
        None,
        None,
        "UNAVAILABLE: down",
        Verdict.inconclusive,
        ["Cloud Monitoring query failed", "UNAVAILABLE"],
    ),
    (
        "query failed wins even over bad figures",
        Sample(500, 50.0, 1, 1),
        None,
        None,
        "boom",
        Verdict.inconclusive,
        ["query failed"],
    ),
    (
        "worse than stable error rate",
        Sample(500, 0.9, 200, 800),
        Sample(1000, 0.1, 200, 800),
        CompareToStable(error_rate_margin_pct=0.5),
        None,
        Verdict.unhealthy,
        ["error rate 0.9% > stable 0.1% + 0.5 points"],
    ),
    (
        "worse than stable p99",
        Sample(500, 0.1, 300, 1500),
        STABLE,
        COMPARE,
        None,
        Verdict.unhealthy,
        ["p99 1500 ms > stable 900 ms + 20%"],
    ),
    (
        "within the margin of stable",
        Sample(500, 1.0, 300, 1000),
        STABLE,
        COMPARE,
        None,
        Verdict.healthy,
        [],
    ),
    (
        "stable worse than canary",
        Sample(500, 0.2, 200, 700),
        Sample(1000, 0.9, 500, 1900),
        COMPARE,
        None,
        Verdict.healthy,
        [],
    ),
    (
        "stable with too few requests skips compare",
        Sample(500, 0.9, 300, 1500),
        Sample(50, 0.0, 100, 100),
        COMPARE,
        None,
        Verdict.healthy,
        [],
    ),
    (
        "fixed threshold still applies when stable is worse",
        Sample(500, 3.0, 300, 800),
        Sample(1000, 9.0, 300, 800),
        COMPARE,
        None,
        Verdict.unhealthy,
        ["error rate 3% > 1%"],
    ),
]


@pytest.mark.parametrize(
    "canary, stable, compare, query_error, expected, words",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verdict(canary, stable, compare, query_error, expected, words):
    result = decide(T, canary, stable, compare, query_error)
    assert result.verdict == expected
    assert "\n" not in result.reason and result.reason
    for word in words:
        assert word in result.reason


def test_no_data_is_never_healthy():
    for count in (0, 1, 99):
        assert decide(T, Sample(count, 0.0, 1, 1)).verdict != Verdict.healthy


def test_lacks_data_and_query_failed_are_told_apart():
    assert decide(T, Sample(3, 0.0, 1, 1)).lacks_data
    failed = decide(T, Sample(), query_error="x")
    assert failed.query_failed and not failed.lacks_data
