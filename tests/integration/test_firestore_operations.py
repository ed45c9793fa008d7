"""Firestore operations per route, counted against the emulator (docs/performance.md):
a change that adds a round trip, a read or a write to a hot path fails here."""

import pytest

from tests.support.firestore_ops import counted_firestore

TAXONOMY = {"name": "api", "provider": "gcp", "cloud_account_id": "proj-1", "region": "eu-west1"}


def new(client, headers, version):
    response = client.post(
        "/v1/deployments", json={**TAXONOMY, "version": version, "type": "k8s"}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def warm(deployments, gh):
    """The organisation record is cached and the process has made its first calls."""
    new(deployments, gh, "warm-up")
    return deployments


def measured(call) -> dict[str, int]:
    """The operations of one request: round trips (`rpcs`), documents read and written,
    queries, and the count of each RPC."""
    with counted_firestore() as ops:
        response = call()
    assert response.status_code < 300, response.json
    return dict(ops)


COMMIT = {"commit": 1}


def test_create_get_list_cost_one_round_trip_each(warm, gh):
    body = {**TAXONOMY, "version": "1", "type": "k8s"}
    # create: one commit of the record, its queue day entry, the queue floor and the event
    ops = measured(lambda: warm.post("/v1/deployments", json=body, headers=gh))
    assert ops == {"rpcs": 1, "writes": 4, **COMMIT}
    record_id = warm.get("/v1/deployments?limit=1", headers=gh).json[0]["id"]
    ops = measured(lambda: warm.get(f"/v1/deployments/{record_id}", headers=gh))
    assert ops == {"rpcs": 1, "reads": 1, "batch_get_documents": 1}
    # list: one query; it reads the page (two records here)
    ops = measured(lambda: warm.get("/v1/deployments?name=api&limit=100", headers=gh))
    assert ops == {"rpcs": 1, "reads": 2, "queries": 1, "run_query": 1}


def test_patch_claim_and_rollback(warm, gh):
    older, target, claimed = (new(warm, gh, v) for v in ("1", "2", "3"))
    # PATCH to deployed of a record this instance has seen: the record with its queue's
    # head and day (one read), the older scheduled record by key (one read), one commit
    # (the record, its queue entry, the skipped record and its entry, the raised floor,
    # the events' outbox document, ...).
    ops = measured(
        lambda: warm.patch(
            f"/v1/deployments/{target['id']}", json={"status": "deployed"}, headers=gh
        )
    )
    assert ops == {"rpcs": 3, "batch_get_documents": 2, "reads": 5, "writes": 7, **COMMIT}
    # PATCH of notes only: one read, one commit (the record and its event)
    ops = measured(
        lambda: warm.patch(f"/v1/deployments/{target['id']}", json={"notes": "n"}, headers=gh)
    )
    assert ops == {"rpcs": 2, "batch_get_documents": 1, "reads": 1, "writes": 2, **COMMIT}
    # claim: a transaction: the in-progress query, the queue, the records by key, commit
    ops = measured(lambda: warm.post("/v1/deployments/claim", json=TAXONOMY, headers=gh))
    assert ops == {
        "rpcs": 6,
        "begin_transaction": 1,
        "run_query": 1,
        "queries": 1,
        "batch_get_documents": 3,
        "reads": 4,
        "writes": 4,
        **COMMIT,
    }
    # PATCH to deployed of the claimed record: the record with its queue (one read), commit
    ops = measured(
        lambda: warm.patch(
            f"/v1/deployments/{claimed['id']}", json={"status": "deployed"}, headers=gh
        )
    )
    assert ops == {"rpcs": 2, "batch_get_documents": 1, "reads": 3, "writes": 2, **COMMIT}
    # rollback: the current deployed record and the one it returns to (two queries), the
    # record by id, one commit (the new record, its queue entry and floor, the event)
    ops = measured(lambda: warm.post(f"/v1/deployments/{claimed['id']}/rollback", headers=gh))
    assert ops == {
        "rpcs": 4,
        "run_query": 2,
        "queries": 2,
        "batch_get_documents": 1,
        "reads": 4,
        "writes": 4,
        **COMMIT,
    }
