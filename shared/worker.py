"""The worker's handler registry: job type -> handler(run) -> result.

    from shared import worker
    worker.register("CANARY_CHECK", check_canary)   # handler(run: JobRun) -> dict

A handler gets a `shared.packages.jobs.JobRun` (settings, org, job, attempt,
`checkpoint(batch)`), returns the job's result, raises `JobFailed` for a failure
retrying cannot fix and any other exception to be retried by Cloud Tasks.
Handlers must be idempotent: a job may run again after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.packages.jobs import JobFailed, JobRun

Handler = Callable[[JobRun], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}

__all__ = ["HANDLERS", "JobFailed", "JobRun", "register", "handler_for"]


def register(job_type: str, handler: Handler) -> None:
    """Register the handler of a job type (`PACKAGE_DEPLOYMENT`, `CANARY_CHECK`, ...)."""
    HANDLERS[job_type.upper()] = handler


def handler_for(job_type: str) -> Handler | None:
    return HANDLERS.get(job_type.upper())


def register_package_handlers(packages) -> None:
    """PACKAGE_DEPLOYMENT and PACKAGE_GENERATION, run by a `shared.packages.service.Packages`."""
    register("PACKAGE_DEPLOYMENT", packages.deployment_job)
    register("PACKAGE_GENERATION", packages.generation_job)
