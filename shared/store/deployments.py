"""The deployment queue in Firestore: reads and writes of deployments and their day queues.

No rules live here (which move is allowed, what a note says, which record a rollback
copies): `shared.deployments` decides, this module reads and writes.

Layout (every tenant under its own path, so no collection takes another
tenant's writes):

    organisations/{org}/deployments/{id}          one deployment; `taxonomy_key` indexed
    organisations/{org}/queues/{taxonomy_key}      the taxonomy's queue: `floor`, a day
                                                  no scheduled deployment is older than
    organisations/{org}/queues/{taxonomy_key}/days/{YYYY-MM-DD}
                                                  `entries`: "created_at|id" of the
                                                  deployments created that day and
                                                  still scheduled
    organisations/{org}/idempotency_keys/{sha256}  request hash + deployment id, `expire_at` TTL

Every query filters on indexed equality fields (`taxonomy_key`, `status`, the
list filters) and orders by one timestamp, so its cost depends on the page it
returns, not on how many deployments the organisation has. Auto-skip and claim
read the taxonomy's queue by key (the days from `floor` to the record's), never a
query: `write` keeps it in step with the records in the same commit, with blind
transforms (ArrayUnion/ArrayRemove, Minimum), so creating a deployment reads nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.transforms import ArrayRemove, ArrayUnion, Maximum, Minimum

from shared import clock
from shared.errors import BadRequest, NotFound
from shared.models.deployment import Status
from shared.models.ids import UUID
from shared.store import writes
from shared.store.firestore import BoundedCache, StripedLocks, every, owned_data

IDEMPOTENCY_TTL = timedelta(hours=24)
# Day documents of a queue read per round trip.
QUEUE_DAYS_PER_READ = 300
# Records whose taxonomy and creation time a process remembers.
KNOWN_RECORDS = 10_000
# Deployed records read per round trip when looking back through a taxonomy's history.
HISTORY_PAGE = 300
DESC = firestore.Query.DESCENDING


def _entry(record: dict[str, Any]) -> str:
    """A queue entry: text order is creation order."""
    return f"{record['created_at']}|{record['id']}"


def _entry_id(entry: str) -> str:
    return entry.rsplit("|", 1)[1]


def _day_number(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def check_id(deployment_id: str) -> str:
    """Ids are lower-case UUID text; anything else cannot exist (404)."""
    if not isinstance(deployment_id, str) or not UUID.match(deployment_id):
        raise NotFound(f"deployment {deployment_id} not found")
    return deployment_id


def encode_page_token(record: dict[str, Any]) -> str:
    raw = json.dumps([record["created_at"], record["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[str, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created_at, deployment_id = json.loads(base64.urlsafe_b64decode(padded))
        clock.parse(created_at)
        check_id(deployment_id)
        return created_at, deployment_id
    except (ValueError, TypeError, binascii.Error, NotFound, UnicodeDecodeError):
        raise BadRequest(
            "page_token is not a token this API returned",
            details=[{"field": "page_token", "error": "invalid"}],
        ) from None


class DeploymentStore:
    """Deployments of every organisation, their per-taxonomy day queues and idempotency keys.

    `write` keeps a taxonomy's queue in step with its records in the same commit; reads
    by key (`read_for_update`, `scheduled_before`) serve the queue service's decisions.
    """

    def __init__(self, db: firestore.Client):
        self.db = db
        self._locks = StripedLocks()
        # (org, id) -> (taxonomy_key, created_at) of records this process has seen: both
        # never change, so a PATCH can read a record and its queue in one round trip
        self._known = BoundedCache(KNOWN_RECORDS)

    # -- paths --------------------------------------------------------------------
    # Document references from their path's segments: a third of the cost of chaining
    # collection() and document() calls, and a PATCH makes nine of them.

    def collection(self, org: str):
        return self.db.collection("organisations", org, "deployments")

    def ref(self, org: str, deployment_id: str):
        return self.db.document("organisations", org, "deployments", deployment_id)

    def _queue(self, org: str, key: str):
        return self.db.document("organisations", org, "queues", key)

    def _queue_day(self, org: str, key: str, day: str):
        return self.db.document("organisations", org, "queues", key, "days", day)

    def _queue_refs(self, org: str, key: str, day: str) -> list:
        """The queue's head and the document of `day`: what a read of the queue starts with."""
        return [self._queue(org, key), self._queue_day(org, key, day)]

    def _idempotency_ref(self, org: str, idempotency_key: str):
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return self.db.document("organisations", org, "idempotency_keys", digest)

    def lock(self, org: str, key: str):
        """The process-local lock serialising writers of one taxonomy (or one key)."""
        return self._locks(f"{org}/{key}")

    # -- the day queue ------------------------------------------------------------

    def queued(self, org: str, key: str, until: str | None = None) -> list[str]:
        """Entries ("created_at|id") of the taxonomy's scheduled deployments, oldest first.

        Only those created on or before the day `until` (default: tomorrow, UTC): the
        days from the queue's floor to `until`, read by key.
        """
        return self._read_queue(org, key, until)[1]

    def _read_queue(
        self, org: str, key: str, until: str | None = None, start: list | None = None
    ) -> tuple[int, list[str]]:
        """(floor as a day number, entries) of the queue; `start`: the snapshots of
        `_queue_refs(org, key, until)` when already read."""
        last = _day_number(until) if until else clock.utcnow().date().toordinal() + 1
        head_ref, last_ref = self._queue_refs(org, key, date.fromordinal(last).isoformat())
        entries: list[str] = []
        floor = last
        for snapshot in start or self.db.get_all([head_ref, last_ref]):
            data = owned_data(snapshot) or {}
            if snapshot.reference.path == head_ref.path:
                floor = min(int(data.get("floor", last)), last)
            else:
                entries += data.get("entries") or []
        days = [date.fromordinal(n).isoformat() for n in range(floor, last)]
        for first in range(0, len(days), QUEUE_DAYS_PER_READ):
            refs = [self._queue_day(org, key, d) for d in days[first : first + QUEUE_DAYS_PER_READ]]
            for snapshot in self.db.get_all(refs, field_paths=["entries"]):
                entries += (owned_data(snapshot) or {}).get("entries") or []
        return floor, sorted(entries)

    def scheduled_before(
        self, org: str, record: dict[str, Any], limit: int, queue_start: list | None = None
    ) -> tuple[list, int]:
        """References to the newest `limit` deployments queued before `record`, and the
        queue's floor (a day number). `queue_start`: the queue's first documents, when
        `read_for_update` brought them."""
        key, created = record["taxonomy_key"], record["created_at"]
        self.remember(org, record)
        expected = [r.path for r in self._queue_refs(org, key, created[:10])]
        if queue_start and [s.reference.path for s in queue_start] != expected:
            queue_start = None  # read for another taxonomy or day: not this record's queue
        floor, entries = self._read_queue(org, key, created[:10], queue_start)
        older = [e for e in entries if e.split("|", 1)[0] < created][::-1][:limit]
        return [self.ref(org, _entry_id(e)) for e in older], floor

    def newest_scheduled(self, org: str, key: str, limit: int) -> list:
        """References to the taxonomy's `limit` newest scheduled deployments, newest first."""
        newest = self.queued(org, key)[::-1][:limit]
        return [self.ref(org, _entry_id(e)) for e in newest]

    def raise_floor(self, writer, org: str, record: dict[str, Any]) -> None:
        """Nothing scheduled is older than `record` any more: later reads start at its day."""
        day = _day_number(record["created_at"][:10])
        writes.merge_transforms(
            writer, self._queue(org, record["taxonomy_key"]), {"floor": Maximum(day)}
        )

    @staticmethod
    def floor_below(floor: int, record: dict[str, Any]) -> bool:
        """Whether a queue's floor lies before the day `record` was created."""
        return floor < _day_number(record["created_at"][:10])

    # -- writes -------------------------------------------------------------------

    def write(
        self, writer, org: str, before: dict | None, after: dict[str, Any], read_at=None
    ) -> None:
        """Write a record with `writer` (transaction or batch), its queue entry in step.

        `before` None creates the record (failing if the id exists). `read_at`, the update
        time `before` was read at, makes the commit fail (FailedPrecondition) if the record
        changed since.
        """
        ref = self.ref(org, after["id"])
        if before is None:
            writes.create(writer, ref, after)
        elif read_at is not None:
            writes.update_changed(writer, ref, before, after, read_at)
        else:
            writes.set(writer, ref, after)
        was = before is not None and before.get("status") == Status.scheduled.value
        now = after.get("status") == Status.scheduled.value
        key, day = after["taxonomy_key"], after["created_at"][:10]
        if now and not was:
            entry = ArrayUnion([_entry(after)])
            writes.merge_transforms(writer, self._queue_day(org, key, day), {"entries": entry})
            floor = Minimum(_day_number(day))
            writes.merge_transforms(writer, self._queue(org, key), {"floor": floor})
        elif was and not now:
            entry = ArrayRemove([_entry(before)])
            writes.merge_transforms(writer, self._queue_day(org, key, day), {"entries": entry})

    def kept_request(self, transaction, org: str, idempotency_key: str) -> dict | None:
        """What an unexpired idempotency key recorded (`request_hash`, `deployment_id`)."""
        snapshot = self._idempotency_ref(org, idempotency_key).get(transaction=transaction)
        kept = snapshot.to_dict() if snapshot.exists else None
        return kept if kept and kept["expire_at"] > clock.utcnow() else None

    def keep_request(
        self, transaction, org: str, idempotency_key: str, body_hash: str | None, record: dict
    ) -> None:
        """Record that `idempotency_key` created `record` (kept IDEMPOTENCY_TTL)."""
        transaction.set(
            self._idempotency_ref(org, idempotency_key),
            {
                "request_hash": body_hash,
                "deployment_id": record["id"],
                "created_at": record["created_at"],
                "expire_at": clock.utcnow() + IDEMPOTENCY_TTL,
            },
        )

    # -- reads --------------------------------------------------------------------

    def remember(self, org: str, record: dict[str, Any]) -> dict[str, Any]:
        """Note a record's taxonomy and creation time (they never change); returns it."""
        self._known.put((org, record["id"]), (record["taxonomy_key"], record["created_at"]))
        return record

    def get(self, org: str, deployment_id: str) -> dict[str, Any]:
        """The record, or NotFound (also for another organisation's id)."""
        snapshot = self.ref(org, check_id(deployment_id)).get()
        if not snapshot.exists:
            raise NotFound(f"deployment {deployment_id} not found")
        return self.remember(org, owned_data(snapshot))

    def snapshot(self, org: str, deployment_id: str, transaction=None):
        """The record's snapshot (it may not exist)."""
        return self.ref(org, deployment_id).get(transaction=transaction)

    def read_for_update(self, org: str, deployment_id: str, with_queue: bool) -> tuple:
        """(snapshot, queue start) of a record about to change; NotFound if it does not exist.

        With `with_queue` and a record this process has seen, the start of its queue comes
        back in the same round trip (taxonomy and creation time never change).
        """
        ref = self.ref(org, check_id(deployment_id))
        known = self._known.get((org, deployment_id))
        queue_start = None
        if known is not None and with_queue:
            extra = self._queue_refs(org, known[0], known[1][:10])
            found = {s.reference.path: s for s in self.db.get_all([ref, *extra])}
            snapshot, queue_start = found[ref.path], [found[r.path] for r in extra]
        else:
            snapshot = ref.get()
        if not snapshot.exists:
            raise NotFound(f"deployment {deployment_id} not found")
        return snapshot, queue_start

    def read(self, refs: list, transaction=None) -> list:
        """Documents by reference (in a transaction: locks exactly those documents)."""
        return list(self.db.get_all(refs, transaction=transaction)) if refs else []

    def list(
        self, org: str, filters: dict[str, Any], limit: int, page_token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first, equality filters only; returns the page and the next page's token."""
        query = self.collection(org)
        for name, value in filters.items():
            query = query.where(filter=FieldFilter(name, "==", value))
        query = query.order_by("created_at", direction=DESC).order_by("__name__", direction=DESC)
        if page_token:
            created_at, last_id = decode_page_token(page_token)
            query = query.start_after(
                {"created_at": created_at, "__name__": self.collection(org).document(last_id)}
            )
        records = [owned_data(snapshot) for snapshot in query.limit(limit + 1).stream()]
        next_token = encode_page_token(records[limit - 1]) if len(records) > limit else None
        return records[:limit], next_token

    def by_approval(
        self, org: str, approval_status: str, limit: int, after: tuple[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Deployments in `approval_status`, newest first (created_at, then id), after the
        (created_at, id) cursor `after`."""
        query = (
            self.collection(org)
            .where(filter=FieldFilter("approval_status", "==", approval_status))
            .order_by("created_at", direction=DESC)
            .order_by("__name__", direction=DESC)
        )
        if after is not None:
            query = query.start_after(
                {"created_at": after[0], "__name__": self.collection(org).document(after[1])}
            )
        return [snapshot.to_dict() for snapshot in query.limit(limit).stream()]

    def _by_taxonomy(self, org: str, key: str, status: Status):
        return (
            self.collection(org)
            .where(filter=FieldFilter("taxonomy_key", "==", key))
            .where(filter=FieldFilter("status", "==", status.value))
        )

    def in_progress(self, org: str, key: str, transaction=None) -> str | None:
        """The id of a deployment of the taxonomy in progress, or None."""
        query = self._by_taxonomy(org, key, Status.in_progress).limit(1)
        running = list(query.stream(transaction))
        return running[0].id if running else None

    def newest_deployed(self, org: str, key: str, version: str | None) -> dict[str, Any] | None:
        """The taxonomy's most recently deployed record (of `version`, when given)."""
        query = self._by_taxonomy(org, key, Status.deployed)
        if version is not None:
            query = query.where(filter=FieldFilter("version", "==", version))
        found = list(query.order_by("deployed_at", direction=DESC).limit(1).stream())
        return found[0].to_dict() if found else None

    def deployed_history(
        self, org: str, key: str, version: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The taxonomy's deployed records (of `version`), most recently deployed first,
        read page by page for as long as the caller iterates."""
        query = self._by_taxonomy(org, key, Status.deployed)
        if version is not None:
            query = query.where(filter=FieldFilter("version", "==", version))
        query = query.order_by("deployed_at", direction=DESC).order_by("__name__", direction=DESC)
        for snapshot in every(query, HISTORY_PAGE):
            yield snapshot.to_dict()
