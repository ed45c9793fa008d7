"""The job types the worker runs: job type -> handler.

    from shared.jobs.registry import REGISTRY
    REGISTRY.stored(JobType.package_deployment, deploy)   # deploy(run: JobRun) -> result
    REGISTRY.direct(JobType.canary_check, check)          # check(delivery) -> JobOutcome

A stored job has a document in `organisations/{org}/jobs`: the runner claims it,
hands the handler a `JobRun` (settings, org, job, attempt, `checkpoint(batch)`)
and records how it ended. The handler returns the job's result, raises `JobFailed`
for a failure retrying cannot fix and any other exception to be retried. A direct
job keeps its state in its own aggregate (a canary check: the canary's check
count and lease); its handler takes the delivery and answers the outcome itself.
Handlers must be idempotent: a job may run again after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shared.jobs.outcome import JobOutcome


@dataclass(frozen=True)
class Delivery:
    """One Cloud Tasks delivery to the worker."""

    job_id: str
    organisation: str | None = None
    job_type: str | None = None
    attempt: int | None = None  # X-CloudTasks-TaskRetryCount + 1, when known
    data: dict[str, Any] = field(default_factory=dict)  # the rest of the task body


StoredHandler = Callable[[Any], dict[str, Any]]  # (JobRun) -> the job's result
DirectHandler = Callable[[Delivery], JobOutcome]


def _key(job_type: str | Enum) -> str:
    return (job_type.value if isinstance(job_type, Enum) else job_type).upper()


class Registry:
    """Handlers by job type (case-insensitive)."""

    def __init__(self) -> None:
        self._stored: dict[str, StoredHandler] = {}
        self._direct: dict[str, DirectHandler] = {}

    def stored(self, job_type: str | Enum, handler: StoredHandler) -> None:
        self._stored[_key(job_type)] = handler

    def direct(self, job_type: str | Enum, handler: DirectHandler) -> None:
        self._direct[_key(job_type)] = handler

    def remove(self, job_type: str | Enum) -> None:
        self._stored.pop(_key(job_type), None)
        self._direct.pop(_key(job_type), None)

    def stored_handler(self, job_type: str) -> StoredHandler | None:
        return self._stored.get(_key(job_type))

    def direct_handler(self, job_type: str | None) -> DirectHandler | None:
        return self._direct.get(_key(job_type)) if job_type else None


# The worker process's job types.
REGISTRY = Registry()
