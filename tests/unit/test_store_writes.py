"""shared/store/writes.py sends exactly what the client library's own methods would."""

from datetime import UTC, datetime
from enum import Enum

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.transforms import (
    DELETE_FIELD,
    SERVER_TIMESTAMP,
    ArrayRemove,
    ArrayUnion,
    Increment,
    Maximum,
    Minimum,
)
from google.cloud.firestore_v1.types import write as write_types

from shared.store import writes


class Status(str, Enum):
    deployed = "deployed"


RECORD = {
    "id": "0b5c8a9e-8f1e-4c8e-9a57-2d3a4f5b6c7d",
    "name": "svc",
    "version": "1.2.3",
    "auto": True,
    "cell": None,
    "count": 3,
    "negative": -(2**63),
    "ratio": 0.25,
    "notes": "ünïcode\nlines",
    "empty_text": "",
    "approvals": [{"actor": "octocat", "decision": "approved", "time": "t"}],
    "empty_list": [],
    "empty_map": {},
    "nested": {"a": [1, [2, 3], {"b": None, "c": False}], "d": {"e": {}}},
    "pair": ("x", 1),
}

ODD = [
    {"status": Status.deployed},  # a str enum: its text
    {"when": datetime(2026, 1, 2, tzinfo=UTC)},  # a timestamp
    {"at": SERVER_TIMESTAMP},
    {"tags": ArrayUnion(["a"])},
    {"gone": DELETE_FIELD},
    {"a.b": 1},  # a dotted name is a field path to the library
    {"has-dash": 1},
    {"nested": {"x.y": 1}},
    {"big": 2**63},  # out of int64: the library's error
    {"text": "\ud800"},  # not UTF-8: the library's error
    {"raw": b"bytes"},
    {"tags": {"a", "b"}},
]


@pytest.fixture(scope="module")
def db():
    return firestore.Client(project="writes-test", credentials=AnonymousCredentials())


def sent(batch) -> list[bytes]:
    return [write_types.Write.pb(w).SerializeToString(deterministic=True) for w in batch._write_pbs]


def same(db, ours, theirs) -> tuple[list[bytes], list[bytes]]:
    """What `ours(batch)` and `theirs(batch)` each add to a batch (the error, if one fails)."""
    results = []
    for make in (ours, theirs):
        batch = db.batch()
        try:
            make(batch)
        except Exception as exc:  # noqa: BLE001 - compared below
            results.append([type(exc).__name__, str(exc)])
            continue
        results.append(sent(batch))
    return results[0], results[1]


@pytest.mark.parametrize("data", [RECORD, {}, {"one": "field"}, *ODD])
def test_create_and_set_send_what_the_library_sends(db, data):
    ref = db.collection("organisations").document("acme").collection("deployments").document("d")
    ours, theirs = same(db, lambda b: writes.create(b, ref, data), lambda b: b.create(ref, data))
    assert ours == theirs
    ours, theirs = same(db, lambda b: writes.set(b, ref, data), lambda b: b.set(ref, data))
    assert ours == theirs


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "deployed", "updated_at": "t", "deployed_at": "t", "notes": None},
        {"approvals": RECORD["approvals"], "nested": RECORD["nested"], "empty_map": {}},
        {"z": 1, "a": 2, "m": 3},
        {},
        *ODD,
    ],
)
def test_update_sends_what_the_library_sends(db, changes):
    ref = db.collection("organisations").document("acme").collection("deployments").document("d")
    option = db.write_option(last_update_time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    ours, theirs = same(
        db,
        lambda b: writes.update(b, ref, changes, option),
        lambda b: b.update(ref, changes, option),
    )
    assert ours == theirs


@pytest.mark.parametrize(
    "transforms",
    [
        {"entries": ArrayUnion(["2026-01-02T03:04:05Z|id"])},
        {"entries": ArrayRemove(["2026-01-02T03:04:05Z|id", "other"])},
        {"floor": Minimum(739_000)},
        {"floor": Maximum(739_000)},
        {"floor": Maximum(1.5), "entries": ArrayUnion([{"a": None}]), "b": Minimum(-1)},
        {"count": Increment(1)},
        {"plain": 1},
        {"entries": ArrayUnion([b"bytes"])},
        {"a.b": Minimum(1)},
        {},
    ],
)
def test_merge_transforms_send_what_the_library_sends(db, transforms):
    ref = db.collection("organisations").document("acme").collection("queues").document("k")
    ours, theirs = same(
        db,
        lambda b: writes.merge_transforms(b, ref, transforms),
        lambda b: b.set(ref, transforms, merge=True),
    )
    assert ours == theirs


def test_a_transaction_takes_the_writes_too(db):
    ref = db.collection("organisations").document("acme").collection("deployments").document("d")
    transaction = db.transaction()
    writes.create(transaction, ref, RECORD)
    batch = db.batch()
    batch.create(ref, RECORD)
    assert sent(transaction) == sent(batch)


class LibraryRefused:
    """A writer whose library methods fail: what reaches them did not take the fast path."""

    def __init__(self, inner):
        self.inner = inner

    def _add_write_pbs(self, pbs):
        self.inner._add_write_pbs(pbs)

    def create(self, *args, **kwargs):
        raise AssertionError("went through the library")

    set = update = create


def test_plain_data_never_goes_through_the_library(db):
    ref = db.collection("organisations").document("acme").collection("deployments").document("d")
    writer = LibraryRefused(db.batch())
    writes.create(writer, ref, RECORD)
    writes.set(writer, ref, RECORD)
    writes.update(writer, ref, {"status": "deployed"}, db.write_option(exists=True))
    writes.merge_transforms(writer, ref, {"entries": ArrayRemove(["x"]), "floor": Minimum(1)})
    assert len(writer.inner._write_pbs) == 4
