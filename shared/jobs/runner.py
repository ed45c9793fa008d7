"""The job runner: one delivery in, one domain outcome out (the worker maps it to HTTP).

A stored job is claimed in a transaction (`rules.claim`): `pending|queued|retry ->
processing`, recording the delivery's attempt number. A second delivery of the
attempt that holds the job does nothing; a later attempt takes the job over only
once the holder recorded no progress for the lease (a process that died), and
the holder's next checkpoint then stops it (its progress commit is conditional
on the job being as it read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import clock, logs
from shared.errors import Conflict, NotFound
from shared.jobs import rules
from shared.jobs.errors import JobCancelled, JobFailed, Superseded
from shared.jobs.outcome import JobOutcome, Outcome
from shared.jobs.queue import JobQueue
from shared.jobs.registry import Delivery, Registry, StoredHandler
from shared.models.job import JobStatus
from shared.store.jobs import JobStore

log = logs.get("jobs")
LEASE_CAP_SECONDS = 120


@dataclass
class JobRun:
    """One attempt at a stored job: what its handler gets."""

    settings: Any
    jobs: JobStore
    org: str
    job: dict[str, Any]
    attempt: int

    @property
    def data(self) -> dict[str, Any]:
        return self.job.get("job_data") or {}

    def checkpoint(self, batch) -> None:
        """Before each journal commit: stop if cancelled or superseded, else add progress.

        The progress write is conditional: the batch's commit fails (FailedPrecondition)
        when the job changed since; call again with a new batch."""
        why = self.jobs.record_progress(batch, self.org, self.job["job_id"], self.attempt)
        if why == "superseded":
            raise Superseded(
                f"job {self.job['job_id']} is no longer held by attempt {self.attempt}"
            )
        if why == "cancelled":
            raise JobCancelled(f"job {self.job['job_id']} was cancelled")


class JobRunner:
    """Runs deliveries of the job types in `registry`."""

    def __init__(self, settings, queue: JobQueue, registry: Registry):
        self.settings = settings
        self.queue = queue
        self.jobs = queue.store
        self.registry = registry

    @property
    def lease_seconds(self) -> int:
        return min(self.settings.job_deadline_seconds, LEASE_CAP_SECONDS)

    def deliver(self, delivery: Delivery) -> JobOutcome:
        """Handle one delivery. `retry` and `busy` ask Cloud Tasks to deliver it again."""
        direct = self.registry.direct_handler(delivery.job_type)
        if direct is not None:
            try:
                return direct(delivery)
            except Exception:  # noqa: BLE001 - retried by Cloud Tasks
                log.exception("%s job %s failed", delivery.job_type, delivery.job_id)
                return JobOutcome(Outcome.retry, JobStatus.retry.value)
        return self._stored(delivery)

    def _stored(self, delivery: Delivery) -> JobOutcome:
        job_id, org = delivery.job_id, delivery.organisation
        if not org:
            found = self.jobs.find(job_id)
            if found is None:
                return JobOutcome(Outcome.unknown, reason=f"job {job_id} not found")
            org = found[0]
        now, lease = clock.utcnow(), self.lease_seconds
        try:
            job, claim = self.jobs.change(
                org, job_id, lambda j: rules.claim(j, delivery.attempt, now, lease)
            )
        except NotFound:
            return JobOutcome(Outcome.unknown, reason=f"job {job_id} not found")
        except Conflict as exc:
            return JobOutcome(Outcome.done, reason=exc.message)
        if claim == rules.Claim.skip:
            return JobOutcome(Outcome.done, job["status"])
        if claim == rules.Claim.busy:
            return JobOutcome(Outcome.busy, reason="an earlier attempt is still running")
        handler = self.registry.stored_handler(str(job["job_type"]))
        run = JobRun(self.settings, self.jobs, org, job, job["delivery"])
        if handler is None:
            error = f"no handler for job type {job['job_type']}"
            return self._end(run, JobStatus.failed, error=error)
        return self._run(run, handler)

    def _run(self, run: JobRun, handler: StoredHandler) -> JobOutcome:
        try:
            result = handler(run)
        except Superseded:
            return JobOutcome(Outcome.ran, "superseded")
        except JobCancelled:
            return self._end(run, JobStatus.cancelled, error="cancelled while running")
        except JobFailed as exc:
            return self._end(run, JobStatus.failed, error=str(exc), result=exc.result)
        except Exception as exc:  # noqa: BLE001 - retried by Cloud Tasks
            log.exception("job %s attempt %s failed", run.job["job_id"], run.attempt)
            limit = self.queue.retry_limit()
            last = limit is not None and run.attempt >= limit
            status = JobStatus.failed if last else JobStatus.retry
            outcome = self._end(run, status, error=f"attempt {run.attempt}: {exc}")
            return outcome if last else JobOutcome(Outcome.retry, status.value)
        return self._end(run, JobStatus.completed, result=result)

    def _end(self, run: JobRun, status: JobStatus, **fields) -> JobOutcome:
        """Record how the attempt ended, unless another attempt or the sweep owns the job."""
        self.jobs.update(
            run.org, run.job["job_id"], lambda j: rules.finish(j, run.attempt, status, fields)
        )
        return JobOutcome(Outcome.ran, status.value)
