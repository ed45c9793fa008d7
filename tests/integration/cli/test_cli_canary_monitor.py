"""`deployq canary monitor`: the decision loop from a terminal, against the gRPC fakes of
Cloud Run Admin v2 and Cloud Monitoring v3 (the real Google clients talk to them)."""

from __future__ import annotations

import pytest

PROJECT, REGION, SERVICE = "shop-prod", "europe-west1", "api"
STABLE, CANARY = "api-00001-old", "api-00002-new"


@pytest.fixture
def fake(fake_apis, monkeypatch):
    google_fake = fake_apis
    google_fake.reset()
    monkeypatch.setenv("CLOUD_RUN_API_ENDPOINT", google_fake.address)
    monkeypatch.setenv("MONITORING_API_ENDPOINT", google_fake.address)
    google_fake.run.add_service(
        PROJECT,
        REGION,
        SERVICE,
        revisions=[STABLE, CANARY],
        traffic=[{"revision": STABLE, "percent": 90}, {"revision": CANARY, "percent": 10}],
    )
    return google_fake


def traffic(fake) -> dict[str, int]:
    shares: dict[str, int] = {}
    for entry in fake.run.service(PROJECT, REGION, SERVICE)["traffic"]:
        shares[entry["revision"]] = shares.get(entry["revision"], 0) + entry["percent"]
    return {rev: pct for rev, pct in shares.items() if pct}


def serve(canary: dict, stable: dict | None = None):
    """A Monitoring script: every window, these figures for the canary and the stable revision."""
    stable = stable or {"requests": {"2xx": 900}, "latencies_ms": [40.0] * 50}

    def script(project, service, revision, start, end):
        return canary if revision == CANARY else stable

    return script


def monitor(cli, *extra: str):
    return cli(
        "canary",
        "monitor",
        "--project-id",
        PROJECT,
        "--region",
        REGION,
        "--service",
        SERVICE,
        "--revision",
        CANARY,
        "--interval",
        "1",
        "--json",
        *extra,
    )


def test_a_healthy_canary_is_promoted_after_the_duration(cli, fake):
    fake.monitoring.script(
        serve({"requests": {"2xx": 150, "4xx": 20}, "latencies_ms": [80.0] * 60})
    )
    result = monitor(cli, "--duration", "0.04", "--error-rate-threshold", "1")
    assert result.code == 0, result
    summary = result.json
    assert summary["result"] == "promoted" and summary["stable_revision"] == STABLE
    assert len(summary["checks"]) >= 2
    assert all(c["verdict"] == "Healthy" for c in summary["checks"])
    assert summary["checks"][0]["request_count"] == 170  # 4xx are requests, not errors
    assert summary["checks"][0]["error_rate_pct"] == 0
    assert summary["checks"][0]["stable"]["request_count"] == 900
    assert traffic(fake) == {CANARY: 100}
    assert "check 1: Healthy" in result.err


def test_an_unhealthy_canary_is_rolled_back_at_once_and_deleted(cli, fake):
    fake.monitoring.script(
        serve({"requests": {"2xx": 150, "5xx": 50}, "latencies_ms": [80.0] * 60})
    )
    result = monitor(cli, "--duration", "10")
    assert result.code == 1, result
    summary = result.json
    assert summary["result"] == "rolled_back" and len(summary["checks"]) == 1
    assert "error rate 25% > 1%" in summary["reason"]
    assert traffic(fake) == {STABLE: 100}
    assert any(CANARY in name for name in fake.run.deleted_revisions)


def test_a_slow_canary_breaks_the_latency_threshold(cli, fake):
    fake.monitoring.script(serve({"requests": {"2xx": 200}, "latencies_ms": [5000.0] * 100}))
    result = monitor(
        cli, "--duration", "10", "--latency-threshold", "2000", "--keep-canary-on-rollback"
    )
    assert result.code == 1, result
    assert "p95" in result.json["reason"]
    assert traffic(fake) == {STABLE: 100}
    assert fake.run.deleted_revisions == []


def test_a_canary_without_enough_requests_is_never_promoted(cli, fake):
    fake.monitoring.script(serve({"requests": {"2xx": 3}, "latencies_ms": [10.0] * 3}))
    result = monitor(cli, "--duration", "0.02", "--keep-canary-on-rollback")
    assert result.code == 1, result
    summary = result.json
    assert summary["result"] == "rolled_back"
    assert "min_requests" in summary["reason"]
    assert all(c["verdict"] == "Inconclusive" for c in summary["checks"])


def test_report_only_changes_no_traffic(cli, fake):
    fake.monitoring.script(serve({"requests": {"2xx": 100, "5xx": 100}}))
    result = monitor(cli, "--duration", "10", "--no-rollback")
    assert result.code == 1, result
    assert result.json["traffic_changed"] is False
    assert traffic(fake) == {STABLE: 90, CANARY: 10}


def test_someone_else_changing_the_service_wins(cli, fake):
    def script(project, service, revision, start, end):
        fake.run.external_update(PROJECT, REGION, SERVICE)  # a deploy elsewhere meanwhile
        return {"requests": {"5xx": 500}} if revision == CANARY else None

    fake.monitoring.script(script)
    result = monitor(cli, "--duration", "10")
    assert result.code == 5, result
    assert "conflict" in result.err
    assert traffic(fake) == {STABLE: 90, CANARY: 10}


def test_unknown_service_or_revision_is_not_found(cli, fake):
    missing = cli(
        "canary",
        "monitor",
        "--project-id",
        PROJECT,
        "--region",
        REGION,
        "--service",
        "nope",
        "--revision",
        CANARY,
        "--duration",
        "1",
    )
    assert missing.code == 4, missing
    unknown = cli(
        "canary",
        "monitor",
        "--project-id",
        PROJECT,
        "--region",
        REGION,
        "--service",
        SERVICE,
        "--revision",
        "api-09999-zzz",
        "--duration",
        "1",
    )
    assert unknown.code == 4 and "api-09999-zzz" in unknown.err


def test_traffic_can_be_shifted_first(cli, fake):
    fake.run.add_service(
        PROJECT,
        REGION,
        SERVICE,
        revisions=[STABLE, CANARY],
        traffic=[{"revision": STABLE, "percent": 100}],
    )
    fake.monitoring.script(serve({"requests": {"5xx": 100}}))
    result = monitor(cli, "--duration", "10", "--traffic-percent", "20")
    assert result.code == 1, result
    assert len(fake.run.updates) == 2  # the shift, then the rollback
    assert "now serves 20%" in result.err
    assert traffic(fake) == {STABLE: 100}


def test_a_canary_with_no_traffic_is_warned_about(cli, fake):
    fake.run.add_service(
        PROJECT,
        REGION,
        SERVICE,
        revisions=[STABLE, CANARY],
        traffic=[{"revision": STABLE, "percent": 100}],
    )
    fake.monitoring.script(serve({}))
    result = monitor(cli, "--duration", "0.01", "--no-rollback")
    assert result.code == 1, result
    assert "serves 0% of traffic" in result.err


def test_monitoring_unavailable_rolls_back_after_the_limit(cli, fake):
    fake.monitoring.fail_all(True)
    result = monitor(
        cli, "--duration", "10", "--consecutive-error-limit", "2", "--keep-canary-on-rollback"
    )
    assert result.code == 1, result
    summary = result.json
    assert len(summary["checks"]) == 2
    assert all(c["verdict"] == "Inconclusive" for c in summary["checks"])
    assert "Cloud Monitoring unavailable for 2 consecutive checks" in summary["reason"]
    assert traffic(fake) == {STABLE: 100}
