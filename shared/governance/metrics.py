"""Metrics derived from events: the log lines of the log-based metrics (terraform/monitoring.tf,
docs/deploy.md section 5) and the custom metric points of contract/governance.md 16.

`lines_for(event)` is pure: the metric lines one deployq event stands for, each with the
fields the log-based metrics filter on and extract (`metric`, `event_type`, `event_id`,
`organisation`, `service`, `environment`, and `duration_seconds` / `traffic_percent` as
numbers). `points_for(event, at)` is the deployment part of them as custom metric points.
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
# The custom metrics of contract/governance.md 16 (the canary function writes its own).
CUSTOM = (STARTED, SUCCESS, ROLLBACK, DURATION)
CANARY_ENDED = {
    "promoted": "canary_rollouts_succeeded",
    "rolled_back": "canary_rollouts_rolled_back",
    "aborted": "canary_rollouts_rolled_back",
}
VALUE_FIELDS = ("duration_seconds", "traffic_percent")


def _seconds(start: Any, end: Any) -> float | None:
    if not start or not end:
        return None
    return max(0.0, float((clock.parse(end) - clock.parse(start)).total_seconds()))


def _deployment_lines(event: dict[str, Any], before: dict, after: dict) -> list[dict[str, Any]]:
    if event.get("type") == "deployq.deployment.created":
        return [{"metric": ROLLBACK}] if after.get("trigger") == "rollback" else []
    status, previous = after.get("status"), before.get("status")
    if event.get("type") != "deployq.deployment.status_changed" or status == previous:
        return []
    lines: list[dict[str, Any]] = []
    if status == "in_progress":
        lines.append({"metric": STARTED})
    if status == "deployed":
        lines.append({"metric": SUCCESS})
    if status in ("deployed", "failed"):
        started = after.get("created_at")
        if previous == "in_progress":
            started = before.get("status_changed_at")
        seconds = _seconds(started, after.get("status_changed_at") or after.get("updated_at"))
        if seconds is not None:
            lines.append({"metric": DURATION, "duration_seconds": seconds})
    return lines


def _canary_lines(event: dict[str, Any], before: dict, after: dict) -> list[dict[str, Any]]:
    if not before:  # created: traffic moves, and the rollout starts, in a later change
        return []
    lines: list[dict[str, Any]] = []
    if after.get("started_at") and not before.get("started_at"):
        lines.append({"metric": "canary_rollouts_started"})
    percent = after.get("traffic_percent")
    if percent != before.get("traffic_percent") and isinstance(percent, (int, float)):
        lines.append({"metric": "canary_traffic_percent", "traffic_percent": percent})
    status = after.get("status")
    if status != before.get("status") and status in CANARY_ENDED:
        lines.append({"metric": CANARY_ENDED[status]})
        ended = after.get("ended_at") or after.get("updated_at") or event.get("time")
        seconds = _seconds(after.get("started_at") or after.get("created_at"), ended)
        if seconds is not None:
            lines.append({"metric": "canary_duration", "duration_seconds": seconds})
    return lines


def lines_for(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The metric log lines of an event (without severity and message), in a fixed order."""
    data = event.get("data") or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    subject = str(event.get("subject") or "")
    if not isinstance(after, dict) or not after or not isinstance(before, dict):
        return []
    if subject.startswith("deployments/"):
        found, service = _deployment_lines(event, before, after), after.get("name")
    elif subject.startswith("canaries/"):
        found, service = _canary_lines(event, before, after), after.get("service")
    else:
        return []
    labels = {
        "event_type": str(event.get("type") or ""),
        "event_id": str(event.get("id") or ""),
        "organisation": str(data.get("organisation") or event.get("organisation") or "").lower(),
        "service": str(service or ""),
        "environment": str(after.get("environment") or ""),
    }
    return [{"metric": line["metric"], **labels, **line} for line in found]


def points_for(event: dict[str, Any], at: datetime) -> list[MetricPoint]:
    """Custom metric points of an event; `at` is the write time (points go in order)."""
    points = []
    for line in lines_for(event):
        if line["metric"] not in CUSTOM:
            continue
        labels = {k: line[k] for k in ("organisation", "service", "environment")}
        value = next((line[k] for k in VALUE_FIELDS if k in line), 1)
        points.append(MetricPoint(line["metric"], value, labels, at))
    return points
