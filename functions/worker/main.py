"""The worker (`worker`): runs queued jobs delivered by Cloud Tasks; sweeps stuck ones."""

from __future__ import annotations

import functions_framework

from shared import logs
from shared import worker as registry
from shared.config import load_settings_or_exit
from shared.models.job import TaskBody
from shared.packages import jobs
from shared.packages.service import Packages
from shared.web import Api, Context, Route

SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)
_packages: Packages | None = None
# Cloud Scheduler may send any body to the sweep; it is ignored.
RAW = ("application/octet-stream", "application/json", "text/plain")


def service() -> Packages:
    global _packages
    if _packages is None:
        _packages = Packages(SETTINGS)
        registry.register_package_handlers(_packages)
    return _packages


def retry_count(ctx: Context) -> int | None:
    value = ctx.request.headers.get("X-CloudTasks-TaskRetryCount")
    return int(value) if value and value.isdigit() else None


def run_task(ctx: Context):
    packages = service()
    return jobs.run_delivery(
        SETTINGS, packages.jobs, registry.HANDLERS, ctx.body.model_dump(), retry_count(ctx)
    )


def sweep(ctx: Context):
    packages = service()
    return jobs.sweep(SETTINGS, packages.jobs, packages.store, packages.recover)


API = Api(
    "deployq worker",
    SETTINGS,
    [
        Route(
            "/tasks/run",
            "POST",
            run_task,
            auth="internal",
            body=TaskBody,
            response="shared.models.responses:TaskOutcome",
            summary="run one job (Cloud Tasks delivery of {job_id})",
        ),
        Route(
            "/tasks/sweep",
            "POST",
            sweep,
            auth="internal",
            raw_body=RAW,
            response="shared.models.responses:JobSweep",
            summary="time out stuck jobs and finish abandoned deployments (Cloud Scheduler)",
        ),
    ],
)


@functions_framework.http
def worker(request):
    """HTTP entry point of the worker."""
    return API.handle(request)
