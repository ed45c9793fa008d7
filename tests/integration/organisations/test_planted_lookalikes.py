"""Look-ups and sweeps over collection groups act on documents under organisations/{org}/
only, and look-alikes at the top of a database (same ids as real ones, more of them than a
sweep reads at once) neither hide nor starve the real ones."""

from __future__ import annotations

import uuid

import pytest

from shared import clock
from shared.models.job import JobStatus
from shared.store.canaries import CanaryStore
from shared.store.jobs import JobStore
from shared.store.packages import PackageStore

OLD = "2020-01-01T00:00:00.000000Z"
PLANTED = 260  # more than a sweep's page (100) and than two of them


def older(n: int) -> str:
    """A time before OLD, so planted documents sort before the real ones."""
    return f"2019-01-01T00:{n // 60:02d}:{n % 60:02d}.000000Z"


@pytest.fixture
def db(base_env, project):
    from shared.store import firestore as fs

    return fs.client(project)


def plant(db, collection: str, real_id: str, record: dict, time_field: str) -> None:
    """`PLANTED` top-level look-alikes of `record`, one with the real id, all older."""
    ids = [real_id] + [str(uuid.uuid4()) for _ in range(PLANTED - 1)]
    for start in range(0, len(ids), 400):
        batch = db.batch()
        for n, doc_id in enumerate(ids[start : start + 400], start):
            fields = {**record, "id": doc_id, time_field: older(n)}
            if "job_id" in record:
                fields["job_id"] = doc_id
            batch.set(db.collection(collection).document(doc_id), fields)
        batch.commit()


def tenant(db, collection: str, doc_id: str, org: str = "acme"):
    return db.collection("organisations").document(org).collection(collection).document(doc_id)


def test_jobs_are_found_and_swept_past_planted_ones(db):
    job_id = str(uuid.uuid4())
    job = {
        "job_id": job_id,
        "id": job_id,
        "organisation": "acme",
        "job_type": "package_deployment",
        "status": "processing",
        "progress_at": OLD,
        "created_at": OLD,
        "updated_at": OLD,
    }
    tenant(db, "jobs", job_id).set(job)
    plant(db, "jobs", job_id, job, "progress_at")
    store = JobStore(db)

    assert store.find(job_id) == ("acme", job)
    assert store.get("acme", job_id) == job
    stale = store.stale(JobStatus.processing, clock.now_text())
    assert stale == [("acme", job)]
    # A planted job alone is nobody's.
    lone = str(uuid.uuid4())
    db.collection("jobs").document(lone).set({**job, "job_id": lone, "id": lone})
    assert store.find(lone) is None


def test_stale_package_deployments_are_swept_past_planted_ones(db):
    deployment_id = str(uuid.uuid4())
    deployment = {
        "id": deployment_id,
        "organisation": "acme",
        "status": "running",
        "environment": "production",
        "progress_at": OLD,
        "created_at": OLD,
    }
    tenant(db, "package_deployments", deployment_id).set(deployment)
    plant(db, "package_deployments", deployment_id, deployment, "progress_at")

    found = PackageStore(db).stale_deployments(clock.now_text())
    assert [(org, record["id"]) for org, record in found] == [("acme", deployment_id)]


def test_due_and_unsynced_canaries_are_swept_past_planted_ones(db):
    canary_id = str(uuid.uuid4())
    canary = {
        "id": canary_id,
        "organisation": "acme",
        "status": "progressing",
        "next_check_at": OLD,
        "updated_at": OLD,
        "deployment_sync_pending": True,
        "service": "web",
    }
    tenant(db, "canaries", canary_id).set(canary)
    for field in ("next_check_at", "updated_at"):
        plant(db, "canaries", canary_id, canary, field)
    store = CanaryStore(db)

    assert store.due(clock.utcnow(), 100) == [("acme", canary_id)]
    pending = store.sync_pending(100)
    assert [(record["organisation"], record["id"]) for record in pending] == [("acme", canary_id)]
