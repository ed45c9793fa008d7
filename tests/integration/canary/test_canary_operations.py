"""Firestore operations of a canary check, counted against the emulator
(docs/performance.md): a sweep's check that changes nothing costs two Monitoring queries,
no Cloud Run call, and the Firestore operations below."""

from __future__ import annotations

import time

from tests.support.canary import Traffic, canary_body, install
from tests.support.firestore_ops import counted_firestore


def test_a_sweep_checking_one_canary(canaries, fake, service, gh, internal_headers):
    install(fake, Traffic(fake, "web", "web-2", "web-1"))
    body = canary_body("web", "web-2", step_minutes=10)
    assert canaries.post("/v1/canaries", json=body, headers=gh).status_code == 201
    time.sleep(1.1)  # the first check (interval 1 s) is due
    fake.reset_calls()
    with counted_firestore(all_threads=True) as ops:
        response = canaries.post("/v1/canaries:sweep", headers=internal_headers)
    assert response.status_code == 200 and response.get_json()["checked"] == 1
    assert dict(fake.calls) == {"google.monitoring.v3.MetricService/ListTimeSeries": 2}
    # The sweep's own queries: due canaries (a page, then an empty one) and linked updates
    # to retry. The check: a read of the canary, the lease written on the condition that
    # the canary is as read, and its result (the record and the check entry) committed on
    # the condition that the canary is as the lease left it.
    assert dict(ops) == {
        "rpcs": 6,
        "run_query": 3,
        "queries": 3,
        "reads": 2,
        "batch_get_documents": 1,
        "commit": 2,
        "writes": 3,
    }
