"""A check's lease and result against the emulator: the one-commit result holds only while
the canary is as the lease left it; a write in between sends it through a transaction, and
a lease taken over drops it."""

from __future__ import annotations

import pytest

from shared import clock
from shared.canary.records import CanaryRecords, LeaseLost
from shared.store.canaries import CanaryStore
from shared.store.firestore import client
from tests.support.canary import Traffic, canary_body, install
from tests.support.firestore_ops import counted_firestore


@pytest.fixture
def started(canaries, fake, service, gh, canary_env):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    response = canaries.post("/v1/canaries", json=canary_body("web", "web-2"), headers=gh)
    assert response.status_code == 201
    records = CanaryRecords(CanaryStore(client(canary_env["GOOGLE_CLOUD_PROJECT"])))
    return records, response.get_json()["id"]


def take(records: CanaryRecords, canary_id: str):
    taken = records.lease("acme", canary_id, clock.utcnow(), 60, accept=lambda record: True)
    assert taken is not None
    return taken


def test_a_result_on_the_record_as_leased_is_one_commit(started):
    records, canary_id = started
    _, lease = take(records, canary_id)
    assert take_fails(records, canary_id)  # held: a second lease is refused
    with counted_firestore() as ops:
        after = records.commit("acme", canary_id, lease, {"reason": "checked"}, None)
    assert dict(ops) == {"rpcs": 1, "commit": 1, "writes": 1}
    stored = records.get("acme", canary_id)
    assert stored["reason"] == after["reason"] == "checked"
    assert stored["lease_token"] is None and stored["lease_until"] is None


def take_fails(records: CanaryRecords, canary_id: str) -> bool:
    return records.lease("acme", canary_id, clock.utcnow(), 60, accept=lambda r: True) is None


def test_a_write_in_between_sends_the_result_through_a_transaction(started):
    records, canary_id = started
    _, lease = take(records, canary_id)
    records.update("acme", canary_id, {"deployment_sync_pending": True})  # keeps the lease
    records.commit("acme", canary_id, lease, {"reason": "checked"}, None)
    stored = records.get("acme", canary_id)
    assert stored["reason"] == "checked" and stored["deployment_sync_pending"] is True
    assert stored["lease_token"] is None


def test_a_lease_taken_over_drops_the_result(started):
    records, canary_id = started
    _, lease = take(records, canary_id)
    records.update("acme", canary_id, {"lease_token": "another", "lease_until": "2000-01-01"})
    with pytest.raises(LeaseLost):
        records.commit("acme", canary_id, lease, {"reason": "late"}, None)
    stored = records.get("acme", canary_id)
    assert stored["reason"] != "late" and stored["lease_token"] == "another"
