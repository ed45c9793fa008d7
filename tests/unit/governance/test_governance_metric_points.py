"""Which custom metric points an event stands for."""

from __future__ import annotations

import pytest

from shared import clock
from shared.events import build_event
from shared.governance.metrics import points_for

AT = clock.parse("2026-03-01T00:00:00Z")
BASE = {"id": "x", "name": "web", "environment": "prod", "created_at": "2026-03-01T00:00:00Z"}


def event(type_, before, after):
    return build_event("acme", type_, "deployments/x", before, {**BASE, **after})


@pytest.mark.parametrize(
    "type_, before, after, expected",
    [
        ("deployq.deployment.created", None, {"trigger": "rollback"}, {"deployment_rollback": 1}),
        ("deployq.deployment.created", None, {"trigger": "auto"}, {}),
        (
            "deployq.deployment.status_changed",
            {"status": "scheduled"},
            {"status": "in_progress"},
            {"deployment_started": 1},
        ),
        (
            "deployq.deployment.status_changed",
            {"status": "in_progress", "status_changed_at": "2026-03-01T00:01:00Z"},
            {"status": "deployed", "status_changed_at": "2026-03-01T00:03:00Z"},
            {"deployment_success": 1, "deployment_duration": 120.0},
        ),
        (
            "deployq.deployment.status_changed",
            {"status": "scheduled"},
            {"status": "failed", "status_changed_at": "2026-03-01T00:00:30Z"},
            {"deployment_duration": 30.0},
        ),
        ("deployq.deployment.status_changed", {"status": "scheduled"}, {"status": "skipped"}, {}),
        ("deployq.deployment.approved", {"status": "scheduled"}, {"status": "scheduled"}, {}),
    ],
)
def test_points(type_, before, after, expected):
    points = points_for(event(type_, before, after), AT)
    assert {p.name: p.value for p in points} == expected
    for point in points:
        assert point.labels == {"organisation": "acme", "service": "web", "environment": "prod"}
        assert point.at == AT
