"""The rules of a stored job's life, as pure decisions: (changes, verdict) from the job read.

Each function here is the `decide` of one `JobStore.change` transaction. Firestore
may run a transaction's function again after a conflict, so a decision depends
only on its arguments and leaves nothing behind but what it returns.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from shared import clock
from shared.errors import Conflict
from shared.models.job import FINISHED, WAITING, JobStatus

Changes = dict[str, Any] | None


class Claim(str, Enum):
    run = "run"  # a waiting job: this delivery runs it
    takeover = "takeover"  # a later attempt of a job whose holder went silent: undo, run again
    skip = "skip"  # finished, or held by this same attempt (a duplicate delivery)
    busy = "busy"  # held by an earlier attempt that still records progress


def claim(
    job: dict[str, Any], attempt: int | None, now: datetime, lease_seconds: float
) -> tuple[Changes, Claim]:
    """Take a delivery of `job`; `attempt` is the delivery's number (None: not known).

    A duplicate delivery of the attempt that holds the job skips; a later attempt
    takes the job over only once the holder recorded no progress for the lease.
    """
    status = JobStatus(job["status"])
    stamp = clock.to_text(now)
    held_by = job.get("delivery") or 0
    number = attempt if attempt is not None else held_by + 1
    if status in FINISHED:
        return None, Claim.skip
    if status in WAITING:
        return {
            "status": JobStatus.processing.value,
            "attempts": job.get("attempts", 0) + 1,
            "delivery": number,
            "started_at": job.get("started_at") or stamp,
            "progress_at": stamp,
        }, Claim.run
    if attempt is None or attempt <= held_by:
        return None, Claim.skip
    idle = (now - clock.parse(job["progress_at"])).total_seconds()
    if idle < lease_seconds:
        return None, Claim.busy
    return {
        "attempts": job.get("attempts", 0) + 1,
        "delivery": number,
        "progress_at": stamp,
    }, Claim.takeover


def finish(job: dict[str, Any], attempt: int, status: JobStatus, fields: dict) -> Changes:
    """End an attempt, unless another attempt or the sweep owns the job by now."""
    if job["status"] != JobStatus.processing.value or job.get("delivery") != attempt:
        return None
    changes = {"status": status.value, **fields}
    if status in FINISHED:
        changes["completed_at"] = clock.now_text()
    return changes


def cancel(job: dict[str, Any]) -> tuple[Changes, bool]:
    """Cancel a waiting job (True: delete its task) or ask a processing one to stop.

    409 for a finished job."""
    status = JobStatus(job["status"])
    if status in FINISHED:
        raise Conflict(f"job {job['job_id']} is already {status.value}", code="job_finished")
    if status in WAITING:
        return {
            "status": JobStatus.cancelled.value,
            "completed_at": clock.now_text(),
            "error": "cancelled before it ran",
        }, True
    return {"cancel_requested": True}, False


def queued(job: dict[str, Any]) -> Changes:
    """Its task exists now: a pending job is queued."""
    return {"status": JobStatus.queued.value} if job["status"] == JobStatus.pending.value else None


def not_queued(job: dict[str, Any], reason: str) -> Changes:
    """Its task could not be created: a pending job fails (never left half-queued)."""
    if job["status"] != JobStatus.pending.value:
        return None
    return {"status": JobStatus.failed.value, "error": reason, "completed_at": clock.now_text()}


def time_out(job: dict[str, Any], seen_progress: str, deadline_seconds: int) -> Changes:
    """A processing job still at the progress the sweep saw is stuck: it times out."""
    if job["status"] != JobStatus.processing.value or job["progress_at"] != seen_progress:
        return None
    return {
        "status": JobStatus.timeout.value,
        "completed_at": clock.now_text(),
        "error": f"no progress for {deadline_seconds} s; undone",
    }


def out_of_retries(job: dict[str, Any]) -> Changes:
    """A job waiting for a retry whose task is gone fails."""
    if job["status"] != JobStatus.retry.value:
        return None
    return {
        "status": JobStatus.failed.value,
        "completed_at": clock.now_text(),
        "error": (job.get("error") or "") + "; no retry is left",
    }
