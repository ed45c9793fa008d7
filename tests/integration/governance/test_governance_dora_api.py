"""DORA figures from a hand-made history whose right answers are known.

The history reaches the aggregates the way production does: as events delivered to the
events function (shuffled and duplicated, as Pub/Sub may), then read through the API.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest

from shared import clock
from shared.events import build_event
from tests.support.governance import deliver, drain

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def record(name, environment, status, at, *, commit=None, failed=False, **extra):
    """A deployment record as an event's `after` carries it."""
    at_text = clock.to_text(at)
    return {
        "id": str(uuid.uuid4()),
        "organisation": "acme",
        "name": name,
        "version": extra.pop("version", "1"),
        "provider": "gcp",
        "cloud_account_id": "p1",
        "region": "eu",
        "cell": None,
        "environment": environment,
        "type": "k8s",
        "status": status,
        "trigger": extra.pop("trigger", "auto"),
        "commit_timestamp": clock.to_text(commit) if commit else None,
        "created_at": clock.to_text(at - 2 * HOUR),
        "updated_at": at_text,
        "status_changed_at": at_text,
        "deployed_at": None if failed or status in ("skipped",) else at_text,
        **extra,
    }


def status_event(after):
    return build_event(
        "acme", "deployq.deployment.status_changed", f"deployments/{after['id']}", None, after
    )


@pytest.fixture
def history(events):
    now = clock.utcnow()
    d1 = record("web", "production", "deployed", now - 10 * DAY, commit=now - 10 * DAY - 2 * HOUR)
    d2 = record("web", "production", "failed", now - 8 * DAY, failed=True)
    d3 = record("web", "production", "deployed", now - 8 * DAY + HOUR, commit=now - 8 * DAY)
    d4 = record("web", "production", "deployed", now - 5 * DAY, commit=now - 5 * DAY - 4 * HOUR)
    d4_rolled_back = dict(d4, status="rolled_back", updated_at=clock.to_text(now - 5 * DAY + HOUR))
    d5 = record(
        "web",
        "production",
        "deployed",
        now - 5 * DAY + 10 * 60 * timedelta(seconds=1),
        trigger="rollback",
    )
    d6 = record("web", "production", "skipped", now - 4 * DAY)
    d7 = record("web", "production", "deployed", now - 40 * DAY, commit=now - 41 * DAY)
    d8 = record("web", "production", "failed", now - DAY, failed=True)
    b1 = record("api", "staging", "failed", now - 3 * DAY, failed=True)
    b2 = record(
        "api",
        "staging",
        "deployed",
        now - 3 * DAY + 30 * 60 * timedelta(seconds=1),
        commit=now - 3 * DAY,
    )
    afters = [d1, d2, d3, d4, d4_rolled_back, d5, d6, d7, d8, b1, b2]
    sent = [status_event(a) for a in afters]
    rng = random.Random(7)
    shuffled = sent + rng.sample(sent, 5)  # duplicates, as at-least-once delivery allows
    rng.shuffle(shuffled)
    # The late `deployed` event of d4 must not undo its `rolled_back`.
    shuffled.remove(sent[3])
    shuffled.append(sent[3])
    for event in shuffled:
        assert deliver(events, event).status_code == 200
    return now


def get(deployments, as_, path):
    response = deployments.get(path, headers=as_("viewer"))
    assert response.status_code == 200, response.json
    return response.json


def test_organisation_figures(deployments, as_, history):
    figures = get(deployments, as_, "/v1/metrics/dora")
    assert figures == {
        "days": 30,
        "environment": None,
        "name": None,
        "deployment_frequency": {"deployments": 5, "per_day": 0.1667, "bucket": "Weekly"},
        "lead_time": {"median_seconds": 5400.0, "bucket": "One day"},
        "change_failure_rate": {
            "rate": 0.5,
            "failed": 3,
            "rolled_back": 1,
            "finished": 8,
            "bucket": "46-60%",
        },
        "time_to_restore": {"median_seconds": 2700.0, "bucket": "One day"},
    }


def test_filters(deployments, as_, history):
    production = get(deployments, as_, "/v1/metrics/dora?environment=production")
    assert production["deployment_frequency"]["deployments"] == 4
    assert production["change_failure_rate"] == {
        "rate": 0.5,
        "failed": 2,
        "rolled_back": 1,
        "finished": 6,
        "bucket": "46-60%",
    }
    assert production["lead_time"]["median_seconds"] == 7200.0
    assert production["time_to_restore"]["median_seconds"] == 3600.0

    api = get(deployments, as_, "/v1/metrics/dora?name=api&environment=staging")
    assert api["deployment_frequency"]["deployments"] == 1
    assert api["lead_time"]["median_seconds"] == 1800.0
    assert api["time_to_restore"]["median_seconds"] == 1800.0
    assert api["change_failure_rate"]["rate"] == 0.5

    week = get(deployments, as_, "/v1/metrics/dora?days=7")
    assert week["deployment_frequency"]["deployments"] == 3
    assert week["change_failure_rate"]["finished"] == 5
    assert week["change_failure_rate"]["rate"] == 0.6

    year = get(deployments, as_, "/v1/metrics/dora?days=365&name=web")
    assert year["deployment_frequency"]["deployments"] == 5  # d7, 40 days ago, counts now

    nothing = get(deployments, as_, "/v1/metrics/dora?environment=nowhere")
    assert nothing["lead_time"] == {"median_seconds": None, "bucket": None}
    assert nothing["change_failure_rate"]["rate"] is None
    assert nothing["deployment_frequency"] == {"deployments": 0, "per_day": 0.0, "bucket": "Yearly"}


def test_groupings_and_trends(deployments, as_, history):
    by_service = get(deployments, as_, "/v1/metrics/dora/by-service")
    assert [g["key"] for g in by_service] == ["api", "web"]
    assert by_service[1]["deployment_frequency"]["deployments"] == 4
    assert by_service[0]["time_to_restore"]["median_seconds"] == 1800.0
    by_env = get(deployments, as_, "/v1/metrics/dora/by-environment")
    assert {g["key"]: g["change_failure_rate"]["finished"] for g in by_env} == {
        "production": 6,
        "staging": 2,
    }

    trends = get(deployments, as_, "/v1/metrics/dora/trends?days=30")["trends"]
    assert len(trends) == 31
    by_date = {t["date"]: t for t in trends}
    three_days_ago = (history - 3 * DAY).date().isoformat()
    assert by_date[three_days_ago]["failed"] >= 1
    assert sum(t["deployments"] for t in trends) == 5
    assert sum(t["finished"] for t in trends) == 8


@pytest.mark.parametrize("query", ["days=0", "days=366", "days=week", "days=1.5"])
def test_bad_days_are_400(deployments, as_, query):
    response = deployments.get(f"/v1/metrics/dora?{query}", headers=as_("viewer"))
    assert response.status_code == 400


def test_figures_follow_real_changes(deployments, db, events, as_, create):
    commit = clock.to_text(clock.utcnow() - 2 * HOUR)
    record_ = create("1", commit_timestamp=commit)
    deployments.patch(
        f"/v1/deployments/{record_['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    failed = create("2")
    deployments.patch(
        f"/v1/deployments/{failed['id']}", json={"status": "failed"}, headers=as_("deployer")
    )
    fixed = create("3")
    deployments.patch(
        f"/v1/deployments/{fixed['id']}", json={"status": "deployed"}, headers=as_("deployer")
    )
    drain(db, events)
    figures = get(deployments, as_, "/v1/metrics/dora?environment=production")
    assert figures["deployment_frequency"]["deployments"] == 2
    assert 7200 <= figures["lead_time"]["median_seconds"] < 7260
    assert figures["change_failure_rate"]["failed"] == 1
    assert figures["change_failure_rate"]["finished"] == 3
    assert 0 < figures["time_to_restore"]["median_seconds"] < 60
