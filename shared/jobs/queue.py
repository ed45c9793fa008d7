"""The sending side of jobs: store a job and enqueue its task to the worker; cancel it.

A job is a Firestore document and one Cloud Task named after it (so a retried
enqueue cannot create a second task), a POST of `{"job_id", "organisation"}` to
WORKER_URL. Jobs without a document of their own (a canary check) are sent with
`send`, named so that a second send of the same work is refused by Cloud Tasks.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

from shared import clock, logs
from shared.errors import ServiceUnavailable
from shared.google.tasks import MAX_DISPATCH_DEADLINE_SECONDS, TaskQueue, task_id
from shared.jobs import rules
from shared.lazy import Lazy
from shared.models.job import JobStatus
from shared.store.jobs import JobStore

log = logs.get("jobs")


def task_name(job_id: str) -> str:
    return task_id("job", job_id)


def worker_audience(url: str) -> str:
    """The OIDC audience of worker tasks: the worker function's URL (scheme and host)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def idempotent_job_id(org: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"deployq:{org}:{key}"))


def new_job(org: str, job_type: str, job_data: dict, schedule_at: str | None, job_id: str | None):
    now = clock.now_text()
    return {
        "job_id": job_id or str(uuid.uuid4()),
        "organisation": org,
        "job_type": job_type,
        "status": JobStatus.pending.value,
        "scheduled_at": schedule_at or now,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "completed_at": None,
        "progress_at": now,
        "attempts": 0,
        "delivery": 0,
        "cancel_requested": False,
        "job_data": job_data,
        "result": None,
        "error": None,
    }


class JobQueue:
    """Jobs of every organisation and their tasks on TASKS_QUEUE, delivered to WORKER_URL."""

    def __init__(self, settings, store: JobStore):
        self.settings = settings
        self.store = store
        self._tasks = Lazy(lambda: TaskQueue(settings))
        self._retry_limit: dict[str, int | None] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.settings.tasks_queue and self.settings.worker_url)

    def create(
        self,
        org: str,
        job_type: str,
        job_data: dict[str, Any],
        schedule_at: str | None,
        job_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store the job and enqueue its task at `schedule_at` (now when None).

        Returns (job, created); an existing job id returns that job untouched. 503 when
        Cloud Tasks is unreachable (the job is then failed, never left half-queued)."""
        if not self.configured:
            raise ServiceUnavailable("background jobs need TASKS_QUEUE and WORKER_URL configured")
        job, created = self.store.create(org, new_job(org, job_type, job_data, schedule_at, job_id))
        if not created and job["status"] != JobStatus.pending.value:
            return job, False
        at = clock.parse(job["scheduled_at"]) if schedule_at else None
        try:
            # the worker answers when the job is done: let Cloud Tasks wait for the whole
            # run (the worker function's timeout is the same 30 minutes)
            self.send(
                task_name(job["job_id"]),
                {"job_id": job["job_id"], "organisation": org},
                at,
                MAX_DISPATCH_DEADLINE_SECONDS,
            )
        except ServiceUnavailable as exc:
            log.warning("enqueue of job %s failed: %s", job["job_id"], exc.message)
            reason = f"could not enqueue: {exc.message}"
            self.store.update(org, job["job_id"], lambda j: rules.not_queued(j, reason))
            raise ServiceUnavailable("Cloud Tasks is unavailable; the job was not queued") from None
        return self.store.update(org, job["job_id"], rules.queued), created

    def send(
        self,
        name: str,
        body: dict[str, Any],
        at: datetime | None = None,
        dispatch_deadline: int | None = None,
    ) -> bool:
        """One named task delivering `body` to the worker at `at`; False if the name is taken.

        ServiceUnavailable when jobs are not configured or Cloud Tasks fails."""
        if not self.configured:
            raise ServiceUnavailable("background jobs need TASKS_QUEUE and WORKER_URL configured")
        url = self.settings.worker_url
        return self._tasks().enqueue(
            name,
            url,
            body,
            schedule_time=at,
            audience=worker_audience(url),
            dispatch_deadline=dispatch_deadline,
        )

    def cancel(self, org: str, job_id: str) -> dict[str, Any]:
        """Cancel a waiting job (its task is deleted) or ask a running one to stop; 409 when
        it is finished."""
        job, delete_task = self.store.change(org, job_id, rules.cancel)
        if delete_task:
            try:
                self._tasks().delete(task_name(job_id))
            except ServiceUnavailable:  # a delivery of a cancelled job does nothing anyway
                log.warning("could not delete the task of cancelled job %s", job_id)
        return job

    def task_exists(self, job_id: str) -> bool:
        """Whether the job's task may still be delivered (True when that cannot be known)."""
        if not self.settings.tasks_queue:
            return False
        try:
            return self._tasks().exists(task_name(job_id))
        except ServiceUnavailable:  # unknown: leave the job for the next sweep
            return True

    def retry_limit(self) -> int | None:
        """The queue's max attempts (None: unlimited or unknown), read once per process."""
        queue = self.settings.tasks_queue
        if not queue:
            return None
        with self._lock:
            if queue in self._retry_limit:
                return self._retry_limit[queue]
        try:
            limit = self._tasks().max_attempts()
        except ServiceUnavailable:  # unknown: never treat an attempt as the last
            log.warning("could not read the retry config of %s", queue)
            return None
        with self._lock:
            self._retry_limit[queue] = limit
        return limit
