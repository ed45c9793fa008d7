"""The jobs' side of the worker's sweep: time out stuck jobs, fail jobs whose retries stopped."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from shared.jobs import rules
from shared.jobs.queue import JobQueue
from shared.models.job import JobStatus


def cutoff(settings) -> str:
    """Progress older than this is stuck (JOB_DEADLINE_SECONDS ago)."""
    return clock.to_text(clock.utcnow() - timedelta(seconds=settings.job_deadline_seconds))


def sweep_jobs(settings, queue: JobQueue) -> dict[str, int]:
    """{"timed_out", "failed"}: jobs stuck in processing, jobs left waiting for no retry."""
    jobs, before = queue.store, cutoff(settings)
    deadline = settings.job_deadline_seconds
    counts = {"timed_out": 0, "failed": 0}
    for org, job in jobs.stale(JobStatus.processing, before):
        seen = job["progress_at"]
        after = jobs.update(
            org, job["job_id"], lambda j, seen=seen: rules.time_out(j, seen, deadline)
        )
        if after["status"] == JobStatus.timeout.value:
            counts["timed_out"] += 1
    for org, job in jobs.stale(JobStatus.retry, before):
        if queue.task_exists(job["job_id"]):
            continue
        jobs.update(org, job["job_id"], rules.out_of_retries)
        counts["failed"] += 1
    return counts
