"""Background jobs of packages: create + enqueue, claim, run with checkpoints, sweep.

A job is a Firestore document and one Cloud Task named after it (so a retried
enqueue cannot create a second task). The worker claims a delivery in a
transaction: `pending|queued|retry -> processing`, recording the delivery's
attempt number (`X-CloudTasks-TaskRetryCount` + 1). A duplicate delivery of the
attempt that holds the job does nothing; a later attempt takes the job over only
once the holder recorded no progress for the lease (a process that died), and
then first undoes what the dead attempt wrote.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared import clock, logs
from shared.errors import Conflict, ServiceUnavailable
from shared.models.job import FINISHED, WAITING, JobStatus
from shared.packages.deploy import JobCancelled, Superseded
from shared.store.jobs import JobStore
from shared.tasks import MAX_DISPATCH_DEADLINE_SECONDS

log = logs.get("packages.jobs")
LEASE_CAP_SECONDS = 120
_queues: dict[tuple, Any] = {}
_queue_lock = threading.Lock()
_max_attempts: dict[str, int | None] = {}


class JobFailed(Exception):
    """The job ran and failed for a reason retrying cannot fix."""

    def __init__(self, message: str, result: dict[str, Any] | None = None):
        super().__init__(message)
        self.result = result


def task_queue(settings):
    """The process's TaskQueue (the Cloud Tasks client is imported on first use only)."""
    key = (settings.tasks_queue, settings.tasks_emulator_host, settings.tasks_service_account)
    with _queue_lock:
        if key not in _queues:
            from shared.tasks import TaskQueue

            _queues[key] = TaskQueue(settings)
        return _queues[key]


def task_name(job_id: str) -> str:
    from shared.tasks import task_id

    return task_id("job", job_id)


def worker_audience(url: str) -> str:
    """The OIDC audience of worker tasks: the worker function's URL (scheme and host)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def idempotent_job_id(org: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"deployq:{org}:{key}"))


def create_job(
    settings,
    jobs: JobStore,
    org: str,
    job_type: str,
    job_data: dict[str, Any],
    schedule_at: str | None,
    job_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store the job and enqueue its task at `schedule_at` (now when None).

    Returns (job, created); an existing job id returns that job untouched. 503 when
    Cloud Tasks is unreachable (the job is then failed, never left half-queued)."""
    if not settings.tasks_queue or not settings.worker_url:
        raise ServiceUnavailable("background jobs need TASKS_QUEUE and WORKER_URL configured")
    now = clock.now_text()
    record = {
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
    job, created = jobs.create(org, record)
    if not created and job["status"] != JobStatus.pending.value:
        return job, False
    try:
        task_queue(settings).enqueue(
            task_name(job["job_id"]),
            settings.worker_url,
            {"job_id": job["job_id"], "organisation": org},
            schedule_time=clock.parse(job["scheduled_at"]) if schedule_at else None,
            audience=worker_audience(settings.worker_url),
            # the worker answers when the job is done: let Cloud Tasks wait for the whole
            # run (the worker function's timeout is the same 30 minutes)
            dispatch_deadline=MAX_DISPATCH_DEADLINE_SECONDS,
        )
    except Exception as exc:
        log.exception("enqueue of job %s failed", job["job_id"])
        reason = f"could not enqueue: {exc}"
        jobs.update(
            org,
            job["job_id"],
            lambda j: (
                {
                    "status": JobStatus.failed.value,
                    "error": reason,
                    "completed_at": clock.now_text(),
                }
                if j["status"] == "pending"
                else None
            ),
        )
        raise ServiceUnavailable("Cloud Tasks is unavailable; the job was not queued") from None
    job = jobs.update(
        org,
        job["job_id"],
        lambda j: (
            {"status": JobStatus.queued.value} if j["status"] == JobStatus.pending.value else None
        ),
    )
    return job, created


def cancel_job(settings, jobs: JobStore, org: str, job_id: str) -> dict[str, Any]:
    job, delete_task = jobs.cancel(org, job_id)
    if delete_task:
        try:
            task_queue(settings).delete(task_name(job_id))
        except Exception:  # noqa: BLE001 - a delivery of a cancelled job does nothing anyway
            log.warning("could not delete the task of cancelled job %s", job_id)
    return job


def max_attempts(settings) -> int | None:
    """The queue's max attempts (None: unlimited or unknown), read once per process."""
    queue = settings.tasks_queue
    if not queue:
        return None
    if queue not in _max_attempts:
        try:
            found = task_queue(settings).client.get_queue(name=queue)
            value = found.retry_config.max_attempts
            _max_attempts[queue] = value if value and value > 0 else None
        except Exception:  # noqa: BLE001 - unknown: never treat an attempt as the last
            log.warning("could not read the retry config of %s", queue)
            return None
    return _max_attempts[queue]


def lease_seconds(settings) -> int:
    return min(settings.job_deadline_seconds, LEASE_CAP_SECONDS)


@dataclass
class JobRun:
    """One attempt at a job: what the handler gets."""

    settings: Any
    jobs: JobStore
    org: str
    job: dict[str, Any]
    attempt: int

    @property
    def data(self) -> dict[str, Any]:
        return self.job.get("job_data") or {}

    def checkpoint(self, batch) -> None:
        """Before each journal commit: stop if cancelled or superseded, else record progress."""
        ref = self.jobs.ref(self.org, self.job["job_id"])
        job = ref.get().to_dict() or {}
        if job.get("status") != JobStatus.processing.value or job.get("delivery") != self.attempt:
            raise Superseded(
                f"job {self.job['job_id']} is no longer held by attempt {self.attempt}"
            )
        if job.get("cancel_requested"):
            raise JobCancelled(f"job {self.job['job_id']} was cancelled")
        batch.update(ref, {"progress_at": clock.now_text()})


def claim(
    settings, jobs: JobStore, org: str, job_id: str, attempt: int | None
) -> tuple[str, dict[str, Any]]:
    """Take a delivery: ("run"|"takeover", job) to run it, ("skip"|"busy", job) otherwise."""
    outcome = {"kind": "skip"}
    lease = lease_seconds(settings)

    def decide(job):
        status = JobStatus(job["status"])
        now = clock.now_text()
        number = attempt if attempt is not None else (job.get("delivery") or 0) + 1
        if status in FINISHED:
            return None
        if status in WAITING:
            outcome["kind"] = "run"
            return {
                "status": JobStatus.processing.value,
                "attempts": job.get("attempts", 0) + 1,
                "delivery": number,
                "started_at": job.get("started_at") or now,
                "progress_at": now,
            }
        if attempt is None or attempt <= (job.get("delivery") or 0):
            return None  # a duplicate delivery of the attempt that holds the job
        idle = (clock.utcnow() - clock.parse(job["progress_at"])).total_seconds()
        if idle < lease:
            outcome["kind"] = "busy"
            return None
        outcome["kind"] = "takeover"
        return {"attempts": job.get("attempts", 0) + 1, "delivery": number, "progress_at": now}

    job = jobs.update(org, job_id, decide)
    return outcome["kind"], job


def finish(
    jobs: JobStore, org: str, job_id: str, attempt: int, status: JobStatus, **fields
) -> dict[str, Any]:
    """End an attempt, unless another attempt or the sweep owns the job by now."""

    def decide(job):
        if job["status"] != JobStatus.processing.value or job.get("delivery") != attempt:
            return None
        changes = {"status": status.value, **fields}
        if status in FINISHED:
            changes["completed_at"] = clock.now_text()
        return changes

    return jobs.update(org, job_id, decide)


def run_delivery(
    settings, jobs: JobStore, registry: dict, body: Any, retry_count: int | None
) -> tuple[dict[str, Any], int]:
    """Handle one Cloud Tasks delivery; (payload, HTTP status). 5xx only to ask for a retry."""
    if not isinstance(body, dict) or not isinstance(body.get("job_id"), str):
        return {"status": "ignored", "reason": 'body must be {"job_id": text}'}, 400
    job_id = body["job_id"]
    org = body.get("organisation")
    if not isinstance(org, str) or not org:
        found = jobs.find(job_id)
        if found is None:
            return {"status": "ignored", "reason": f"job {job_id} not found"}, 404
        org = found[0]
    attempt = None if retry_count is None else retry_count + 1
    try:
        kind, job = claim(settings, jobs, org, job_id, attempt)
    except Conflict as exc:
        return {"status": "ignored", "reason": exc.message}, 200
    if kind == "skip":
        return {"status": "ignored", "job_status": job["status"]}, 200
    if kind == "busy":
        return {"status": "busy", "reason": "an earlier attempt is still running"}, 503
    handler = registry.get(str(job["job_type"]).upper())
    number = job["delivery"]
    if handler is None:
        finish(
            jobs,
            org,
            job_id,
            number,
            JobStatus.failed,
            error=f"no handler for job type {job['job_type']}",
        )
        return {"status": "failed"}, 200
    run = JobRun(settings, jobs, org, job, number)
    try:
        result = handler(run)
    except Superseded:
        return {"status": "superseded"}, 200
    except JobCancelled:
        finish(jobs, org, job_id, number, JobStatus.cancelled, error="cancelled while running")
        return {"status": JobStatus.cancelled.value}, 200
    except JobFailed as exc:
        finish(jobs, org, job_id, number, JobStatus.failed, error=str(exc), result=exc.result)
        return {"status": JobStatus.failed.value}, 200
    except Exception as exc:  # noqa: BLE001 - retried by Cloud Tasks
        log.exception("job %s attempt %s failed", job_id, number)
        limit = max_attempts(settings)
        last = limit is not None and number >= limit
        status = JobStatus.failed if last else JobStatus.retry
        finish(jobs, org, job_id, number, status, error=f"attempt {number}: {exc}")
        return {"status": status.value}, 200 if last else 500
    finish(jobs, org, job_id, number, JobStatus.completed, result=result)
    return {"status": JobStatus.completed.value}, 200


def sweep(settings, jobs: JobStore, store, recover) -> dict[str, int]:
    """Time out stuck jobs, fail jobs whose retries stopped, finish abandoned deployments.

    `recover(org, deployment)` undoes a deployment left running by a dead process."""
    cutoff = clock.to_text(clock.utcnow() - timedelta(seconds=settings.job_deadline_seconds))
    counts = {"timed_out": 0, "failed": 0, "recovered": 0}
    for org, job in jobs.stale(JobStatus.processing, cutoff):
        seen = job["progress_at"]
        after = jobs.update(
            org,
            job["job_id"],
            lambda j, seen=seen: (
                {
                    "status": JobStatus.timeout.value,
                    "completed_at": clock.now_text(),
                    "error": f"no progress for {settings.job_deadline_seconds} s; undone",
                }
                if j["status"] == JobStatus.processing.value and j["progress_at"] == seen
                else None
            ),
        )
        if after["status"] == JobStatus.timeout.value:
            counts["timed_out"] += 1
    for org, job in jobs.stale(JobStatus.retry, cutoff):
        if _task_exists(settings, job["job_id"]):
            continue
        jobs.update(
            org,
            job["job_id"],
            lambda j: (
                {
                    "status": JobStatus.failed.value,
                    "completed_at": clock.now_text(),
                    "error": (j.get("error") or "") + "; no retry is left",
                }
                if j["status"] == JobStatus.retry.value
                else None
            ),
        )
        counts["failed"] += 1
    for org, deployment in store.stale_deployments(cutoff):
        job_id = deployment.get("job_id")
        if job_id:
            try:
                job = jobs.get(org, job_id)
            except Exception:  # noqa: BLE001
                job = None
            if job and job["status"] in {s.value for s in WAITING}:
                continue  # its next attempt undoes and redoes it
        recover(org, deployment)
        counts["recovered"] += 1
    return counts


def _task_exists(settings, job_id: str) -> bool:
    if not settings.tasks_queue:
        return False
    try:
        from google.api_core import exceptions

        queue = task_queue(settings)
        queue.client.get_task(name=queue.task_name(task_name(job_id)))
        return True
    except exceptions.NotFound:
        return False
    except Exception:  # noqa: BLE001 - unknown: leave the job for the next sweep
        return True


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
