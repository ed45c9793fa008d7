"""The worker and its sweep act only on documents under organisations/{org}/: look-alike
`jobs` and `package_deployments` collections at the top of a database are ignored."""

from __future__ import annotations

import uuid

from tests.conftest import make_client

OLD = "2020-01-01T00:00:00.000000Z"


def plant(db):
    job_id, deployment_id = str(uuid.uuid4()), str(uuid.uuid4())
    job = {
        "job_id": job_id,
        "id": job_id,
        "organisation": "acme",
        "job_type": "package_deployment",
        "status": "processing",
        "progress_at": OLD,
        "created_at": OLD,
        "updated_at": OLD,
        "attempts": 1,
        "data": {"package_id": str(uuid.uuid4()), "environment": "production"},
    }
    deployment = {
        "id": deployment_id,
        "organisation": "acme",
        "status": "running",
        "environment": "production",
        "progress_at": OLD,
        "created_at": OLD,
    }
    db.collection("jobs").document(job_id).set(job)
    db.collection("package_deployments").document(deployment_id).set(deployment)
    return job_id, job, deployment_id, deployment


def test_the_sweep_and_the_worker_ignore_planted_documents(
    stack, project, internal_headers, api, headers
):
    from shared.store import firestore as fs

    db = fs.client(project)
    job_id, job, deployment_id, deployment = plant(db)
    worker = make_client("worker")
    swept = worker.post("/tasks/sweep", headers=internal_headers)
    assert swept.status_code == 200, swept.json
    assert db.collection("jobs").document(job_id).get().to_dict() == job
    assert (
        db.collection("package_deployments").document(deployment_id).get().to_dict() == deployment
    )
    delivered = worker.post("/tasks/run", json={"job_id": job_id}, headers=internal_headers)
    assert delivered.status_code in (200, 404), delivered.json
    assert db.collection("jobs").document(job_id).get().to_dict() == job
    # Nothing of acme's shows them.
    assert api.get(f"/v1/jobs/{job_id}", headers=headers).status_code == 404
    assert api.get(f"/v1/package-deployments/{deployment_id}", headers=headers).status_code == 404
