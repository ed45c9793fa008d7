"""Firestore operations of a package deploy, counted against the emulator
(docs/performance.md): per 1,000 records, a deploy costs its batched writes and the
reads of the keys it checks, never a round trip per record."""

from __future__ import annotations

from tests.integration.packages.test_deploy import deploy, make_package
from tests.support.firestore_ops import counted_firestore

TABLES = [{"name": "products", "primary_key": "id"}]


def products(count: int, start: int = 1) -> dict[str, dict[str, dict]]:
    numbers = range(start, start + count)
    return {"products": {str(n): {"id": n, "sku": f"s-{n}", "price": n / 100} for n in numbers}}


def test_a_deploy_of_1000_records(api, headers, dev, staging):
    package = make_package(api, headers, dev, data=products(1000), tables=TABLES)
    with counted_firestore(all_threads=True) as ops:
        response = deploy(api, headers, package["id"])
    assert response.status_code == 200, response.json
    assert response.json["deployment"]["records_succeeded"] == 1000
    # The 1,000 records in batched commits plus the deploy's own few documents and its
    # events (the outbox commit after the deployment's); one query, the environment's
    # policy (approval, freeze windows) and reads by key: nothing per record but its write
    assert dict(ops) == {
        "rpcs": 12,
        "commit": 7,
        "writes": 1007,
        "batch_get_documents": 4,
        "reads": 4,
        "run_query": 1,
        "queries": 1,
    }
