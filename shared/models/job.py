"""Background jobs: types, the status machine (one table) and the public shape."""

from __future__ import annotations

from enum import Enum
from typing import Any


class JobType(str, Enum):
    package_deployment = "package_deployment"
    package_generation = "package_generation"
    canary_check = "canary_check"


class JobStatus(str, Enum):
    pending = "pending"
    queued = "queued"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    timeout = "timeout"
    retry = "retry"


S = JobStatus
# The whole job status machine: from -> statuses it may move to.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.pending: frozenset({S.queued, S.processing, S.cancelled, S.failed}),
    S.queued: frozenset({S.processing, S.cancelled, S.failed}),
    S.retry: frozenset({S.processing, S.cancelled, S.failed}),
    S.processing: frozenset({S.completed, S.failed, S.retry, S.cancelled, S.timeout}),
    S.completed: frozenset(),
    S.failed: frozenset(),
    S.cancelled: frozenset(),
    S.timeout: frozenset(),
}
WAITING = frozenset({S.pending, S.queued, S.retry})
FINISHED = frozenset({S.completed, S.failed, S.cancelled, S.timeout})


def can_move(current: JobStatus | str, target: JobStatus | str) -> bool:
    return JobStatus(target) in TRANSITIONS[JobStatus(current)]


def transition_error(job_id: str, current: JobStatus | str, target: JobStatus | str) -> str | None:
    """None when job `job_id` may move `current` -> `target`, else the sentence saying why not."""
    if can_move(current, target):
        return None
    return f"job {job_id} is {JobStatus(current).value}; it cannot become {JobStatus(target).value}"


JOB_FIELDS = (
    "job_id",
    "job_type",
    "status",
    "scheduled_at",
    "created_at",
    "started_at",
    "completed_at",
    "updated_at",
    "attempts",
    "job_data",
    "result",
    "error",
    "cancel_requested",
)


def public_job(record: dict[str, Any]) -> dict[str, Any]:
    job = {key: record.get(key) for key in JOB_FIELDS}
    if record.get("status") != JobStatus.completed:
        job.pop("result")
    if record.get("status") not in (
        JobStatus.failed,
        JobStatus.timeout,
        JobStatus.retry,
        JobStatus.cancelled,
    ):
        job.pop("error")
    return job
