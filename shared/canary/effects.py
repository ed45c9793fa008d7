"""What follows a committed change of a canary: the linked deployment, metrics, the next check.

The next check is a job the worker runs: a Cloud Task named after the canary and
the check's number (so a second send of the same check is refused by Cloud Tasks),
delivering `{"job_type": "canary_check", "job_id": <canary id>, "organisation",
"check"}` to WORKER_URL. The minute sweep runs any check whose task was lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import clock, logs
from shared.canary.linked import LinkedDeployments
from shared.canary.parts import Parts, ids
from shared.errors import ServiceUnavailable
from shared.google.monitoring import MetricPoint
from shared.google.tasks import task_id
from shared.models.canary import CanaryStatus
from shared.models.deployment import Status
from shared.models.job import JobType

log = logs.get("canary")
ENDED = {
    CanaryStatus.promoted: Status.deployed,
    CanaryStatus.rolled_back: Status.failed,
    CanaryStatus.aborted: Status.failed,
    CanaryStatus.failed: Status.failed,
}
ENDED_METRIC = {
    CanaryStatus.promoted: "canary_rollouts_succeeded",
    CanaryStatus.rolled_back: "canary_rollouts_rolled_back",
    CanaryStatus.aborted: "canary_rollouts_rolled_back",
}


def point(name: str, value, record: dict[str, Any], now: datetime) -> MetricPoint:
    """A point labelled as Terraform declares the deployq metrics (monitoring.tf)."""
    labels = {
        "organisation": record.get("organisation") or "",
        "service": record["service"],
        "environment": record.get("environment") or "",
    }
    return MetricPoint(name, value, labels, now)


def end_points(record: dict[str, Any], now: datetime) -> list[MetricPoint]:
    """The metric points of a canary that just ended."""
    status = CanaryStatus(record["status"])
    points = []
    if status in ENDED_METRIC:
        points.append(point(ENDED_METRIC[status], 1, record, now))
        started = clock.parse(record.get("started_at") or record["created_at"])
        duration = max((now - started).total_seconds(), 0.0)
        points.append(point("canary_duration", float(duration), record, now))
    return points


def check_job(org: str, canary_id: str, number: int) -> tuple[str, dict[str, Any]]:
    """(task name, body) of the worker job running check `number` of a canary."""
    body = {
        "job_type": JobType.canary_check.value,
        "job_id": canary_id,
        "organisation": org,
        "check": number,
    }
    return task_id(canary_id, "check", str(number)), body


class Effects:
    """Side effects once a change is committed: deployment status, metrics, next check."""

    def __init__(self, parts: Parts):
        self.parts = parts
        self.linked = LinkedDeployments(parts)

    def after(self, org, before, after, now: datetime, metrics: list | None) -> None:
        """Follow a committed change; `metrics` collects the points instead of writing them."""
        points = []
        if after["traffic_percent"] != before["traffic_percent"]:
            points.append(point("canary_traffic_percent", after["traffic_percent"], after, now))
        status = CanaryStatus(after["status"])
        if status != CanaryStatus(before["status"]):
            points += end_points(after, now)
            if status in ENDED:
                self.linked.sync(org, after, ENDED[status], after["reason"])
        if metrics is not None:
            metrics.extend(points)
        else:
            self.parts.monitoring.write(points)
        if status == CanaryStatus.progressing:
            self.schedule(org, after)

    def schedule(self, org: str, record: dict[str, Any]) -> None:
        """The worker job of the next check (the sweep covers a lost or failed one)."""
        queue = self.parts.queue
        if queue is None or not queue.configured or not record.get("next_check_at"):
            return
        number = int(record.get("check_count") or 0) + 1
        name, body = check_job(org, record["id"], number)
        try:
            queue.send(name, body, clock.parse(record["next_check_at"]))
        except ServiceUnavailable as exc:  # the sweep runs the check anyway
            log.warning(
                "enqueueing check %d failed: %s", number, exc.message, extra={"fields": ids(record)}
            )
