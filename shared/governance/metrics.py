"""Deployment metrics for Cloud Monitoring, derived from events (contract/governance.md 16).

`points_for(event)` is pure: the custom metric points one deployq event stands for, each
labelled with organisation, service (deployment name) and environment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import clock
from shared.google.monitoring import MetricPoint

STARTED = "deployment_started"
SUCCESS = "deployment_success"
ROLLBACK = "deployment_rollback"
DURATION = "deployment_duration"


def points_for(event: dict[str, Any], at: datetime) -> list[MetricPoint]:
    """Metric points of an event; `at` is the write time (Monitoring wants points in order)."""
    data = event.get("data") or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    if not event.get("subject", "").startswith("deployments/") or not after:
        return []
    labels = {
        "organisation": str(data.get("organisation") or event.get("organisation") or ""),
        "service": str(after.get("name") or ""),
        "environment": str(after.get("environment") or ""),
    }
    points: list[MetricPoint] = []
    if event.get("type") == "deployq.deployment.created":
        if after.get("trigger") == "rollback":
            points.append(MetricPoint(ROLLBACK, 1, labels, at))
        return points
    status, previous = after.get("status"), before.get("status")
    if event.get("type") != "deployq.deployment.status_changed" or status == previous:
        return points
    if status == "in_progress":
        points.append(MetricPoint(STARTED, 1, labels, at))
    if status == "deployed":
        points.append(MetricPoint(SUCCESS, 1, labels, at))
    if status in ("deployed", "failed"):
        started = after.get("created_at")
        if previous == "in_progress":
            started = before.get("status_changed_at")
        ended = after.get("status_changed_at") or after.get("updated_at")
        if started and ended:
            seconds = (clock.parse(ended) - clock.parse(started)).total_seconds()
            points.append(MetricPoint(DURATION, max(0.0, float(seconds)), labels, at))
    return points
