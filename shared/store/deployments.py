"""The deployment queue in Firestore.

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
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.transforms import ArrayRemove, ArrayUnion, Maximum, Minimum

from shared import clock
from shared.auth import Principal
from shared.errors import BadRequest, Conflict, NotFound
from shared.models.deployment import (
    ROLLBACK_COPIED_FIELDS,
    TAXONOMY_FIELDS,
    DeploymentCreate,
    DeploymentPatch,
    Status,
    Trigger,
    taxonomy_key,
    transition_error,
)
from shared.models.ids import UUID
from shared.store.firestore import (
    BoundedCache,
    StripedLocks,
    commit,
    run_optimistic,
    run_transaction,
)

IDEMPOTENCY_TTL = timedelta(hours=24)
# Deployments skipped in one commit: each is two writes (the record, its queue entry), so
# a chunk with the main record and its events stays under Firestore's 500 writes.
SKIP_CHUNK = 200
# Day documents of a queue read per round trip.
QUEUE_DAYS_PER_READ = 300
# Records whose taxonomy and creation time a process remembers.
KNOWN_RECORDS = 10_000
# How far back rollback looks for an earlier deployed version.
ROLLBACK_SCAN_LIMIT = 1000
DESC = firestore.Query.DESCENDING


@dataclass
class Change:
    """One committed state change of a deployment (the events outbox publishes these)."""

    type: str  # deployq.deployment.created | deployq.deployment.status_changed | ...
    deployment_id: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


# Called inside the transaction, after its reads, to refuse a status move (approvals,
# freeze windows): (transaction, org, record, target_status, patch or None, principal).
TransitionGuard = Callable[[Any, str, dict, Status, "DeploymentPatch | None", Principal], None]
# Called inside the transaction before commit with the changes it makes (outbox writes),
# and after commit (publishing). Both may be None.
ChangeWriter = Callable[[Any, str, list[Change], Principal, dict], None]
ChangePublisher = Callable[[str, list[Change]], None]
# Called first in a create transaction to complete the new record (approval state):
# (transaction, org, record), may read, mutates the record.
RecordPreparer = Callable[[Any, str, dict], None]


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


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class DeploymentStore:
    """CRUD, the status machine with auto-skip, rollback and claim, scoped to one organisation."""

    def __init__(
        self,
        db: firestore.Client,
        *,
        guard: TransitionGuard | None = None,
        write_changes: ChangeWriter | None = None,
        publish_changes: ChangePublisher | None = None,
        prepare_create: RecordPreparer | None = None,
    ):
        self.db = db
        self.prepare_create = prepare_create
        self.guard = guard
        self.write_changes = write_changes
        self.publish_changes = publish_changes
        self._locks = StripedLocks()
        # (org, id) -> (taxonomy_key, created_at) of records this process has seen: both
        # never change, so a PATCH can read a record and its queue in one round trip
        self._known = BoundedCache(KNOWN_RECORDS)

    # -- paths --------------------------------------------------------------------

    def _org(self, org: str):
        return self.db.collection("organisations").document(org)

    def collection(self, org: str):
        return self._org(org).collection("deployments")

    def _queue(self, org: str, key: str):
        return self._org(org).collection("queues").document(key)

    def _queue_day(self, org: str, key: str, day: str):
        return self._queue(org, key).collection("days").document(day)

    def _queue_refs(self, org: str, key: str, day: str) -> list:
        """The queue's head and the document of `day`: what a read of the queue starts with."""
        return [self._queue(org, key), self._queue_day(org, key, day)]

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
            data = snapshot.to_dict() or {}
            if snapshot.reference.path == head_ref.path:
                floor = min(int(data.get("floor", last)), last)
            else:
                entries += data.get("entries") or []
        days = [date.fromordinal(n).isoformat() for n in range(floor, last)]
        for first in range(0, len(days), QUEUE_DAYS_PER_READ):
            refs = [self._queue_day(org, key, d) for d in days[first : first + QUEUE_DAYS_PER_READ]]
            for snapshot in self.db.get_all(refs, field_paths=["entries"]):
                entries += (snapshot.to_dict() or {}).get("entries") or []
        return floor, sorted(entries)

    def _raise_floor(self, writer, org: str, record: dict[str, Any]) -> None:
        """Nothing scheduled is older than `record` any more: later reads start at its day."""
        day = _day_number(record["created_at"][:10])
        writer.set(self._queue(org, record["taxonomy_key"]), {"floor": Maximum(day)}, merge=True)

    def _by_taxonomy(self, org: str, key: str, status: Status):
        return (
            self.collection(org)
            .where(filter=FieldFilter("taxonomy_key", "==", key))
            .where(filter=FieldFilter("status", "==", status.value))
        )

    # -- writes -------------------------------------------------------------------

    def write(
        self, writer, org: str, before: dict | None, after: dict[str, Any], read_at=None
    ) -> None:
        """Write a record with `writer` (transaction or batch), its queue entry in step.

        `before` None creates the record (failing if the id exists). `read_at`, the update
        time `before` was read at, makes the commit fail (FailedPrecondition) if the record
        changed since.
        """
        ref = self.collection(org).document(after["id"])
        if before is None:
            writer.create(ref, after)
        elif read_at is not None:
            option = self.db.write_option(last_update_time=read_at)
            writer.update(ref, {k: v for k, v in after.items() if before.get(k) != v}, option)
        else:
            writer.set(ref, after)
        was = before is not None and before.get("status") == Status.scheduled.value
        now = after.get("status") == Status.scheduled.value
        key, day = after["taxonomy_key"], after["created_at"][:10]
        if now and not was:
            entry = ArrayUnion([_entry(after)])
            writer.set(self._queue_day(org, key, day), {"entries": entry}, merge=True)
            floor = Minimum(_day_number(day))
            writer.set(self._queue(org, key), {"floor": floor}, merge=True)
        elif was and not now:
            entry = ArrayRemove([_entry(before)])
            writer.set(self._queue_day(org, key, day), {"entries": entry}, merge=True)

    # -- reads --------------------------------------------------------------------

    def remember(self, org: str, record: dict[str, Any]) -> dict[str, Any]:
        """Note a record's taxonomy and creation time (they never change); returns it."""
        self._known.put((org, record["id"]), (record["taxonomy_key"], record["created_at"]))
        return record

    def get(self, org: str, deployment_id: str) -> dict[str, Any]:
        """The record, or NotFound (also for another organisation's id)."""
        snapshot = self.collection(org).document(check_id(deployment_id)).get()
        if not snapshot.exists:
            raise NotFound(f"deployment {deployment_id} not found")
        return self.remember(org, snapshot.to_dict())

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
        records = [snapshot.to_dict() for snapshot in query.limit(limit + 1).stream()]
        next_token = encode_page_token(records[limit - 1]) if len(records) > limit else None
        return records[:limit], next_token

    # -- create -------------------------------------------------------------------

    def new_record(self, org: str, fields: dict[str, Any], principal: Principal) -> dict[str, Any]:
        now = clock.now_text()
        record = dict(fields)
        for name in TAXONOMY_FIELDS:
            record[name] = record.get(name) or None
        record.update(
            id=str(uuid.uuid4()),
            organisation=org,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            deployed_at=None,
            status=Status.scheduled.value,
            trigger=record.get("trigger")
            or (Trigger.auto.value if record.get("auto", True) else Trigger.manual.value),
            source_deployment_id=record.get("source_deployment_id"),
            rollback_from_deployment_id=record.get("rollback_from_deployment_id"),
            created_by_repo=principal.repository,
            created_by_workflow=principal.workflow,
            created_by_actor=principal.actor,
        )
        record["taxonomy_key"] = taxonomy_key(record)
        return record

    def create(
        self,
        org: str,
        body: DeploymentCreate,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
        body_hash: str | None = None,
        meta: dict | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create a scheduled deployment; returns (record, replayed).

        With an idempotency key, a retry with the same body returns the first record
        (replayed True); the same key with another body is a Conflict.
        """
        record = self.new_record(org, body.model_dump(mode="json"), principal)
        return self.insert(org, record, principal, idempotency_key, body_hash, meta)

    def insert(
        self,
        org: str,
        record: dict[str, Any],
        principal: Principal,
        idempotency_key: str | None = None,
        body_hash: str | None = None,
        meta: dict | None = None,
    ) -> tuple[dict[str, Any], bool]:
        key_ref = None
        if idempotency_key:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            key_ref = self._org(org).collection("idempotency_keys").document(digest)
        changes = [Change("deployq.deployment.created", record["id"], None, record)]
        if key_ref is None:
            # Nothing to read transactionally: one atomic batch (record + its events).
            if self.prepare_create:
                self.prepare_create(None, org, record)
            batch = self.db.batch()
            self.write(batch, org, None, record)
            if self.write_changes:
                self.write_changes(batch, org, changes, principal, meta or {})
            batch.commit()
            self.remember(org, record)
            self._publish(org, changes)
            return record, False

        def body(transaction):
            if self.prepare_create:
                self.prepare_create(transaction, org, record)
            if key_ref is not None:
                snapshot = key_ref.get(transaction=transaction)
                kept = snapshot.to_dict() if snapshot.exists else None
                if kept and kept["expire_at"] > clock.utcnow():
                    if kept["request_hash"] != body_hash:
                        raise Conflict(
                            "this Idempotency-Key was used with a different request body",
                            code="idempotency_key_reused",
                        )
                    first = self.collection(org).document(kept["deployment_id"])
                    return first.get(transaction=transaction).to_dict(), True
                transaction.set(
                    key_ref,
                    {
                        "request_hash": body_hash,
                        "deployment_id": record["id"],
                        "created_at": record["created_at"],
                        "expire_at": clock.utcnow() + IDEMPOTENCY_TTL,
                    },
                )
            self.write(transaction, org, None, record)
            if self.write_changes:
                self.write_changes(transaction, org, changes, principal, meta or {})
            return record, False

        with self._locks(f"{org}/idem/{key_ref.id}"):
            result, replayed = run_transaction(self.db, body)
        if not replayed:
            self._publish(org, changes)
        return self.remember(org, result), replayed

    # -- status changes -----------------------------------------------------------

    def update(
        self,
        org: str,
        deployment_id: str,
        patch: DeploymentPatch,
        principal: Principal,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """Apply a PATCH; `deployed` auto-skips older scheduled ones of the taxonomy atomically.

        Raises NotFound, Conflict (illegal transition) or ConcurrentUpdate. Setting the
        status a deployment already has changes nothing.
        """
        ref = self.collection(org).document(check_id(deployment_id))
        known = self._known.get((org, deployment_id))
        queue_start = None
        if known is not None and patch.status == Status.deployed:
            # taxonomy and creation time never change: the record and the start of its
            # queue come back in one round trip
            extra = self._queue_refs(org, known[0], known[1][:10])
            found = {s.reference.path: s for s in self.db.get_all([ref, *extra])}
            snapshot, queue_start = found[ref.path], [found[r.path] for r in extra]
        else:
            snapshot = ref.get()
        if not snapshot.exists:
            raise NotFound(f"deployment {deployment_id} not found")
        reads = {"first": (snapshot, queue_start)}

        def attempt():
            current, start = reads.pop("first", None) or (ref.get(), None)
            return self._patch_once(org, current, patch, principal, meta, start)

        with self._locks(f"{org}/{snapshot.get('taxonomy_key')}"):
            after, changes, older = run_optimistic(attempt)
            if changes and older >= SKIP_CHUNK:
                changes += self._skip_remaining(org, after, principal, meta)
        self._publish(org, changes)
        return after

    def _patch_once(
        self,
        org: str,
        snapshot,
        patch: DeploymentPatch,
        principal: Principal,
        meta,
        queue_start: list | None = None,
    ) -> tuple[dict[str, Any], list[Change], int]:
        """One optimistic attempt: read, decide, then one commit whose preconditions hold
        only if nothing read has changed (else Stale). Returns (record, changes, older found).

        Older scheduled deployments come from the taxonomy's queue (no older one can
        appear later: created_at is the creation time) and are read by reference.
        """
        target = patch.status
        before = snapshot.to_dict()
        after = dict(before)
        status_change = target is not None and target.value != before["status"]
        older, replaced, floor = [], None, 0
        if status_change:
            problem = transition_error(Status(before["status"]), target)
            if problem:
                raise Conflict(problem, code="invalid_transition")
            if self.guard:
                self.guard(None, org, before, target, patch, principal)
            if target == Status.deployed:
                refs, floor = self._older_scheduled(org, before, queue_start)
                older = self._read(refs)
                replaced = self._replaced_record(org, before)
        for name in ("notes", "deployment_uri"):
            value = getattr(patch, name)
            if value is not None:
                after[name] = value
        if not status_change and after == before:
            return before, [], 0
        now = clock.now_text()
        after["updated_at"] = now
        if status_change:
            after["status"] = target.value
            after["status_changed_at"] = now
            if target == Status.deployed:
                after["deployed_at"] = now
        batch = self.db.batch()
        self.write(batch, org, before, after, read_at=snapshot.update_time)
        changes = [Change(_change_type(before, after), before["id"], before, after)]
        if patch.override_reason:
            changes[0].extra["override_reason"] = patch.override_reason
        changes += self._skip(batch, org, older, after, now)
        if replaced is not None:
            changes.append(self._mark_rolled_back(batch, org, replaced, after, now))
        if target == Status.deployed and status_change and len(older) < SKIP_CHUNK:
            if floor < _day_number(after["created_at"][:10]):
                self._raise_floor(batch, org, after)
        if self.write_changes:
            self.write_changes(batch, org, changes, principal, meta or {})
        commit(batch)
        return after, changes, len(older)

    def set_status(
        self, org: str, deployment_id: str, status: Status, principal: Principal, notes: str | None
    ) -> dict[str, Any]:
        """A system-initiated status change (canary promote/rollback), same rules as PATCH."""
        return self.update(
            org, deployment_id, DeploymentPatch(status=status, notes=notes), principal
        )

    def claim(
        self, org: str, taxonomy: dict[str, Any], principal: Principal, meta: dict | None = None
    ) -> dict[str, Any]:
        """Move the newest scheduled deployment of a taxonomy to in_progress, skipping older ones.

        NotFound when none is scheduled; Conflict when one is already in progress.
        """
        key = taxonomy_key({name: taxonomy.get(name) or None for name in TAXONOMY_FIELDS})

        candidates: list = []

        def body(transaction):
            running = list(
                self._by_taxonomy(org, key, Status.in_progress).limit(1).stream(transaction)
            )
            if running:
                raise Conflict(
                    f"deployment {running[0].id} of this taxonomy is already in progress",
                    code="already_in_progress",
                )
            snapshots = self._read(candidates, transaction)
            snapshots.sort(key=lambda s: s.get("created_at"), reverse=True)
            if not snapshots:
                raise NotFound("no scheduled deployment of this taxonomy to claim")
            if snapshots[0].get("status") != Status.scheduled.value:
                raise _Stale()
            before = snapshots[0].to_dict()
            if self.guard:
                self.guard(transaction, org, before, Status.in_progress, None, principal)
            now = clock.now_text()
            after = dict(
                before, status=Status.in_progress.value, updated_at=now, status_changed_at=now
            )
            self.write(transaction, org, before, after)
            changes = [Change("deployq.deployment.status_changed", after["id"], before, after)]
            changes += self._skip(transaction, org, snapshots[1:], after, now, verb="claimed")
            if len(candidates) <= SKIP_CHUNK:
                self._raise_floor(transaction, org, after)
            if self.write_changes:
                self.write_changes(transaction, org, changes, principal, meta or {})
            return after, changes

        with self._locks(f"{org}/{key}"):
            while True:
                newest = self.queued(org, key)[::-1][: SKIP_CHUNK + 1]
                candidates = [self.collection(org).document(_entry_id(e)) for e in newest]
                try:
                    after, changes = run_transaction(self.db, body)
                    break
                except _Stale:
                    continue  # claimed or changed meanwhile: look again
            if len(candidates) > SKIP_CHUNK:
                changes += self._skip_remaining(org, after, principal, meta, verb="claimed")
        self._publish(org, changes)
        return after

    # -- rollback -----------------------------------------------------------------

    def rollback_taxonomy(
        self,
        org: str,
        taxonomy: dict[str, Any],
        target_version: str | None,
        principal: Principal,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """A new scheduled deployment re-deploying the previous (or `target_version`) record."""
        key = taxonomy_key(taxonomy)
        current = self._current_deployed(org, key)
        if current is None:
            raise NotFound("nothing of this taxonomy is deployed, so there is nothing to roll back")
        source = self._rollback_source(org, key, current, target_version)
        return self._create_rollback(org, source, current, principal, meta)

    def rollback_deployment(
        self,
        org: str,
        deployment_id: str,
        target_version: str | None,
        principal: Principal,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """Roll back from one deployment: the current deployed one, or a release never gone live."""
        record = self.get(org, deployment_id)
        key = record["taxonomy_key"]
        status = Status(record["status"])
        if status == Status.rolled_back:
            raise Conflict(
                f"deployment {deployment_id} is already rolled back", code="invalid_state"
            )
        if status == Status.deployed:
            current = self._current_deployed(org, key)
            if current is None or current["id"] != deployment_id:
                raise Conflict(
                    f"deployment {deployment_id} is not the current deployment of its taxonomy"
                    + (f" (the current one is {current['id']})" if current else ""),
                    code="not_current",
                )
            source = self._rollback_source(org, key, record, target_version)
        else:
            source = self._newest_deployed(org, key, target_version)
            if source is None:
                what = f"version {target_version}" if target_version else "any version"
                raise NotFound(f"no deployed record of {what} in this taxonomy to roll back to")
        return self._create_rollback(org, source, record, principal, meta)

    def _current_deployed(self, org: str, key: str) -> dict[str, Any] | None:
        return self._newest_deployed(org, key, None)

    def _newest_deployed(self, org: str, key: str, version: str | None) -> dict[str, Any] | None:
        query = self._by_taxonomy(org, key, Status.deployed)
        if version is not None:
            query = query.where(filter=FieldFilter("version", "==", version))
        found = list(query.order_by("deployed_at", direction=DESC).limit(1).stream())
        return found[0].to_dict() if found else None

    def _rollback_source(
        self, org: str, key: str, current: dict[str, Any], target_version: str | None
    ) -> dict[str, Any]:
        query = self._by_taxonomy(org, key, Status.deployed)
        if target_version is not None:
            query = query.where(filter=FieldFilter("version", "==", target_version))
        query = query.order_by("deployed_at", direction=DESC).limit(ROLLBACK_SCAN_LIMIT)
        for snapshot in query.stream():
            record = snapshot.to_dict()
            if record["id"] == current["id"]:
                continue
            if target_version is None and record["version"] == current["version"]:
                continue
            if (record.get("deployed_at") or "") > (current.get("deployed_at") or ""):
                continue
            return record
        if target_version is not None:
            raise NotFound(
                f"no earlier deployed record of version {target_version} to roll back to"
            )
        raise NotFound("no earlier deployed version of this taxonomy to roll back to")

    def _create_rollback(
        self,
        org: str,
        source: dict[str, Any],
        replaced: dict[str, Any],
        principal: Principal,
        meta: dict | None,
    ) -> dict[str, Any]:
        fields = {name: source.get(name) for name in ROLLBACK_COPIED_FIELDS}
        fields.update(
            auto=source.get("auto", True),
            trigger=Trigger.rollback.value,
            source_deployment_id=source["id"],
            rollback_from_deployment_id=replaced["id"],
            notes=f"Rollback from {replaced['version']} ({replaced['id']}) "
            f"to {source['version']} ({source['id']})",
        )
        record = self.new_record(org, fields, principal)
        created, _ = self.insert(org, record, principal, meta=meta)
        return created

    # -- helpers ------------------------------------------------------------------

    def _read(self, refs: list, transaction=None) -> list:
        """Documents by reference (in a transaction: locks exactly those documents)."""
        return list(self.db.get_all(refs, transaction=transaction)) if refs else []

    def _older_scheduled(
        self, org: str, record: dict[str, Any], queue_start: list | None = None
    ) -> tuple[list, int]:
        """References to the newest SKIP_CHUNK deployments queued before `record`, and the
        queue's floor (a day number)."""
        key, created = record["taxonomy_key"], record["created_at"]
        self.remember(org, record)
        expected = [r.path for r in self._queue_refs(org, key, created[:10])]
        if queue_start and [s.reference.path for s in queue_start] != expected:
            queue_start = None  # read for another taxonomy or day: not this record's queue
        floor, entries = self._read_queue(org, key, created[:10], queue_start)
        older = [e for e in entries if e.split("|", 1)[0] < created][::-1][:SKIP_CHUNK]
        return [self.collection(org).document(_entry_id(e)) for e in older], floor

    def _replaced_record(self, org: str, record: dict[str, Any], transaction=None):
        """The deployed record a rollback replaces (rolled_back once the rollback deploys)."""
        replaced_id = record.get("rollback_from_deployment_id")
        if record.get("trigger") != Trigger.rollback.value or not replaced_id:
            return None
        snapshot = self.collection(org).document(replaced_id).get(transaction=transaction)
        if snapshot.exists and snapshot.get("status") == Status.deployed.value:
            return snapshot
        return None

    def _skip(
        self,
        transaction,
        org: str,
        snapshots: Iterable,
        winner: dict[str, Any],
        now: str,
        verb: str = "deployed",
    ) -> list[Change]:
        changes = []
        for snapshot in snapshots:
            before = snapshot.to_dict()
            if before.get("status") != Status.scheduled.value:
                continue
            note = (
                f"Skipped: superseded by deployment {winner['id']} "
                f"(version {winner['version']}, {verb})"
            )
            after = dict(before, status=Status.skipped.value, updated_at=now, status_changed_at=now)
            after["notes"] = f"{before['notes']}\n{note}" if before.get("notes") else note
            self.write(transaction, org, before, after, read_at=snapshot.update_time)
            changes.append(Change("deployq.deployment.status_changed", after["id"], before, after))
        return changes

    def _mark_rolled_back(
        self, transaction, org: str, snapshot, rollback: dict[str, Any], now: str
    ) -> Change:
        before = snapshot.to_dict()
        after = dict(
            before,
            status=Status.rolled_back.value,
            updated_at=now,
            status_changed_at=now,
            notes=f"Rolled back by deployment {rollback['id']} (version {rollback['version']})",
        )
        self.write(transaction, org, before, after, read_at=snapshot.update_time)
        return Change("deployq.deployment.status_changed", after["id"], before, after)

    def _skip_remaining(
        self,
        org: str,
        winner: dict[str, Any],
        principal: Principal,
        meta: dict | None,
        verb: str = "deployed",
    ) -> list[Change]:
        """Auto-skip past one commit's size: further chunks, each its own transaction."""
        changes: list[Change] = []
        while True:
            refs, _ = self._older_scheduled(org, winner)
            if not refs:
                return changes

            def body(transaction, refs=refs):
                snapshots = self._read(refs, transaction)
                chunk = self._skip(transaction, org, snapshots, winner, clock.now_text(), verb)
                if len(refs) < SKIP_CHUNK:
                    self._raise_floor(transaction, org, winner)
                if chunk and self.write_changes:
                    self.write_changes(transaction, org, chunk, principal, meta or {})
                return chunk

            changes += run_transaction(self.db, body)
            if len(refs) < SKIP_CHUNK:
                return changes

    def _publish(self, org: str, changes: list[Change]) -> None:
        if self.publish_changes and changes:
            self.publish_changes(org, changes)


class _Stale(Exception):
    """What a transaction read changed since the query that found it: query again."""


def _change_type(before: dict[str, Any], after: dict[str, Any]) -> str:
    if before.get("status") != after.get("status"):
        return "deployq.deployment.status_changed"
    return "deployq.deployment.updated"
