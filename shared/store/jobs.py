"""Background jobs in the control-plane Firestore database.

    organisations/{org}/jobs/{id}    one job: type, status, attempts, progress, result

Every change is a transaction whose decision comes from the caller (the rules
live in `shared.jobs`); a status change is checked against the one transition
table of `shared.models.job`. The worker reads a job in the organisation its task body
names; only a body without one is looked up with a collection-group query, which, like
the stale-job sweep, skips documents outside `organisations/{org}/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import Conflict, NotFound
from shared.models.ids import UUID
from shared.models.job import JobStatus, transition_error
from shared.store.firestore import run_transaction
from shared.store.tenancy import tenant_documents

T = TypeVar("T")
Changes = dict[str, Any] | None


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
        query = self.db.collection_group("jobs").where(filter=FieldFilter("job_id", "==", job_id))
        for org, snap in tenant_documents(query, limit=1, page_size=10):
            if snap.id == job_id:
                return org, snap.to_dict()
        return None

    def change(
        self, org: str, job_id: str, decide: Callable[[dict[str, Any]], tuple[Changes, T]]
    ) -> tuple[dict[str, Any], T]:
        """Apply `decide(job)` -> (changes or None, verdict) in a transaction: (job after, verdict).

        `decide` may run more than once (a transaction retried after a conflict): it must
        leave nothing behind but its return value. A status change must be allowed by the
        job status machine (409 otherwise).
        """
        ref = self.ref(org, job_id)

        def body(transaction):
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                raise NotFound(f"job {job_id} not found")
            job = snap.to_dict()
            changes, verdict = decide(dict(job))
            if changes:
                if "status" in changes and changes["status"] != job["status"]:
                    refusal = transition_error(job_id, job["status"], changes["status"])
                    if refusal:
                        raise Conflict(refusal, code="illegal_transition")
                changes = {**changes, "updated_at": clock.now_text()}
                transaction.update(ref, changes)
                job.update(changes)
            return job, verdict

        return run_transaction(self.db, body)

    def update(
        self, org: str, job_id: str, decide: Callable[[dict[str, Any]], Changes]
    ) -> dict[str, Any]:
        """`change` for a decision that is only the changes: the job after."""
        job, _ = self.change(org, job_id, lambda job: (decide(job), None))
        return job

    def record_progress(self, batch, org: str, job_id: str, attempt: int) -> str | None:
        """Add "attempt made progress" to `batch`, conditional on the job being as read now.

        None when it was added; else why the attempt must stop: `superseded` (another
        attempt or the sweep owns the job) or `cancelled`. The batch's commit fails with
        FailedPrecondition when the job changed in between (then ask again).
        """
        ref = self.ref(org, job_id)
        snap = ref.get()
        job = snap.to_dict() or {}
        if job.get("status") != JobStatus.processing.value or job.get("delivery") != attempt:
            return "superseded"
        if job.get("cancel_requested"):
            return "cancelled"
        option = self.db.write_option(last_update_time=snap.update_time)
        batch.update(ref, {"progress_at": clock.now_text()}, option=option)
        return None

    def stale(self, status: JobStatus, before: str, limit: int = 100):
        """(org, job) of jobs in `status` whose progress_at is older than `before`, any org."""
        query = (
            self.db.collection_group("jobs")
            .where(filter=FieldFilter("status", "==", status.value))
            .where(filter=FieldFilter("progress_at", "<", before))
            .order_by("progress_at")
        )
        return [(org, snap.to_dict()) for org, snap in tenant_documents(query, limit)]
