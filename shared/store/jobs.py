"""Background jobs in the control-plane Firestore database.

    organisations/{org}/jobs/{id}    one job: type, status, attempts, progress, result

Every status change goes through `move` inside a transaction, checked against
the one transition table of `shared.models.job`. The worker finds a job by id
with a collection-group query when the task body does not name the organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import Conflict, NotFound
from shared.models.ids import UUID
from shared.models.job import FINISHED, WAITING, JobStatus, can_move
from shared.store.firestore import run_transaction


class JobStore:
    def __init__(self, db: firestore.Client):
        self.db = db

    def ref(self, org: str, job_id: str):
        """The job's document; an id that is not a UUID cannot exist (404)."""
        if not isinstance(job_id, str) or not UUID.match(job_id):
            raise NotFound(f"job {job_id} not found")
        return self.db.collection("organisations").document(org).collection("jobs").document(job_id)

    def create(self, org: str, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the job; (existing job, False) when one with that id already exists."""
        ref = self.ref(org, record["job_id"])
        try:
            ref.create(record)
        except gexc.AlreadyExists:
            return ref.get().to_dict(), False
        return record, True

    def get(self, org: str, job_id: str) -> dict[str, Any]:
        snap = self.ref(org, job_id).get()
        if not snap.exists:
            raise NotFound(f"job {job_id} not found")
        return snap.to_dict()

    def find(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        """(organisation, job) of a job id in any organisation."""
        if not isinstance(job_id, str) or not UUID.match(job_id):
            return None
        query = (
            self.db.collection_group("jobs")
            .where(filter=FieldFilter("job_id", "==", job_id))
            .limit(1)
        )
        for snap in query.stream():
            return snap.reference.parent.parent.id, snap.to_dict()
        return None

    def update(
        self, org: str, job_id: str, decide: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """Apply `decide(job)` -> changes (or None for none) in a transaction; the job after."""
        ref = self.ref(org, job_id)

        def body(transaction):
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                raise NotFound(f"job {job_id} not found")
            job = snap.to_dict()
            changes = decide(job)
            if changes:
                if "status" in changes and changes["status"] != job["status"]:
                    if not can_move(job["status"], changes["status"]):
                        raise Conflict(
                            f"job {job_id} is {job['status']}; it cannot become "
                            f"{changes['status']}",
                            code="illegal_transition",
                        )
                changes = {**changes, "updated_at": clock.now_text()}
                transaction.update(ref, changes)
                job.update(changes)
            return job

        return run_transaction(self.db, body)

    def set_status(self, org: str, job_id: str, status: JobStatus, **fields) -> dict[str, Any]:
        return self.update(
            org,
            job_id,
            lambda job: (
                {"status": status.value, **fields} if job["status"] != status.value else None
            ),
        )

    def cancel(self, org: str, job_id: str) -> tuple[dict[str, Any], bool]:
        """Cancel a waiting job (True: its task should be deleted) or ask a processing one to stop.

        409 for a finished job."""
        outcome = {"delete_task": False}

        def decide(job):
            status = JobStatus(job["status"])
            if status in FINISHED:
                raise Conflict(f"job {job_id} is already {status.value}", code="job_finished")
            if status in WAITING:
                outcome["delete_task"] = True
                return {
                    "status": JobStatus.cancelled.value,
                    "completed_at": clock.now_text(),
                    "error": "cancelled before it ran",
                }
            return {"cancel_requested": True}

        job = self.update(org, job_id, decide)
        return job, outcome["delete_task"]

    def stale(self, status: JobStatus, before: str, limit: int = 100):
        """(org, job) of jobs in `status` whose progress_at is older than `before`, any org."""
        query = (
            self.db.collection_group("jobs")
            .where(filter=FieldFilter("status", "==", status.value))
            .where(filter=FieldFilter("progress_at", "<", before))
            .limit(limit)
        )
        return [(snap.reference.parent.parent.id, snap.to_dict()) for snap in query.stream()]
