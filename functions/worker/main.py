"""The worker (`worker`): runs queued jobs delivered by Cloud Tasks; sweeps stuck ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared import logs
from shared.config import load_settings_or_exit
from shared.errors import NotFound
from shared.jobs.outcome import JobOutcome, Outcome
from shared.jobs.registry import REGISTRY, Delivery
from shared.jobs.runner import JobRunner
from shared.lazy import Lazy
from shared.models.job import JobType
from shared.web import Api, Context, Route

if TYPE_CHECKING:
    from shared.schemas.job import TaskBody

SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)
# Cloud Scheduler may send any body to the sweep; it is ignored.
RAW = ("application/octet-stream", "application/json", "text/plain")
# What each outcome answers Cloud Tasks: 2xx ends the task, anything else retries it.
STATUS = {Outcome.ran: 200, Outcome.done: 200, Outcome.busy: 503, Outcome.retry: 500}


def _packages():
    """The packages service, its job types registered."""
    from shared.packages.service import Packages

    service = Packages(SETTINGS)
    REGISTRY.stored(JobType.package_deployment, service.deployment_job)
    REGISTRY.stored(JobType.package_generation, service.generation_job)
    return service


packages = Lazy(_packages)
runner = Lazy(lambda: JobRunner(SETTINGS, packages().queue, REGISTRY))


def run_canary_check(delivery: Delivery) -> JobOutcome:
    from shared.canary.service import canaries_for

    return canaries_for(SETTINGS).run_check_job(delivery)


REGISTRY.direct(JobType.canary_check, run_canary_check)


def retry_count(ctx: Context) -> int | None:
    value = ctx.request.headers.get("X-CloudTasks-TaskRetryCount")
    return int(value) if value and value.isdigit() else None


def run_task(ctx: Context):
    body: TaskBody = ctx.body
    count = retry_count(ctx)
    delivery = Delivery(
        job_id=body.job_id,
        organisation=body.organisation,
        job_type=body.job_type.value if body.job_type else None,
        attempt=None if count is None else count + 1,
        data={"check": body.check},
    )
    outcome = runner().deliver(delivery)
    if outcome.outcome == Outcome.unknown:
        # Not acknowledged: a job is stored before its task exists, so an unknown one
        # means a worker pointed at the wrong database; the queue's retry limit ends it.
        raise NotFound(outcome.reason or f"job {body.job_id} not found", code="job_not_found")
    return answer(outcome)


def answer(outcome: JobOutcome) -> tuple[dict, int]:
    """What Cloud Tasks hears: `ignored` (with the job's status) when there was nothing to
    do, `busy` while an earlier attempt runs, else the job's status after this delivery."""
    if outcome.outcome == Outcome.done:
        payload = {"status": "ignored", "job_status": outcome.status}
    elif outcome.outcome == Outcome.busy:
        payload = {"status": "busy"}
    else:
        payload = {"status": outcome.status}
    if outcome.reason:
        payload["reason"] = outcome.reason
    return payload, STATUS[outcome.outcome]


def sweep(ctx: Context):
    from shared.jobs.sweep import cutoff, sweep_jobs

    counts = sweep_jobs(SETTINGS, packages().queue)
    counts["recovered"] = packages().recover_abandoned(cutoff(SETTINGS))
    return counts


API = Api(
    "deployq worker",
    SETTINGS,
    [
        Route(
            "/tasks/run",
            "POST",
            run_task,
            auth="internal",
            body="shared.schemas.job:TaskBody",
            response="shared.schemas.responses:TaskOutcome",
            summary="run one job (Cloud Tasks delivery of {job_id})",
        ),
        Route(
            "/tasks/sweep",
            "POST",
            sweep,
            auth="internal",
            raw_body=RAW,
            response="shared.schemas.responses:JobSweep",
            summary="time out stuck jobs and finish abandoned deployments (Cloud Scheduler)",
        ),
    ],
)


@functions_framework.http
def worker(request):
    """HTTP entry point of the worker."""
    return API.handle(request)
