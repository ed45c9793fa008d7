"""The canary sweep acts only on canaries under organisations/{org}/: a top-level `canaries`
document (a look-alike planted in a database) is ignored, and the sweep keeps working."""

from __future__ import annotations

OLD = "2020-01-01T00:00:00.000000Z"


def test_a_planted_canary_is_never_checked(canaries, canary_env, fake, internal_headers):
    from shared.store import firestore as fs

    db = fs.client(canary_env["GOOGLE_CLOUD_PROJECT"])
    planted = {
        "id": "planted",
        "organisation": "acme",
        "status": "progressing",
        "next_check_at": OLD,
        "updated_at": OLD,
        "deployment_sync_pending": True,
        "project": "victim-project",
        "region": "europe-west1",
        "service": "web",
        "canary_revision": "web-1",
        "stable_revision": "web-2",
    }
    db.collection("canaries").document("planted").set(planted)
    swept = canaries.post("/v1/canaries:sweep", headers=internal_headers)
    assert swept.status_code == 200, swept.json
    assert db.collection("canaries").document("planted").get().to_dict() == planted
    assert fake.run.updates == []
