"""The deployment queue: create, PATCH with auto-skip, claim and rollback, with approvals,
freeze windows and events composed step by step.

Each operation reads through the store, decides with `shared.deployments.rules` and the
approvals service, then writes the records, their queue entries and their events in one
commit; the events are published once it committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock
from shared.deployments import rules
from shared.errors import Conflict, NotFound
from shared.events import EventSink, build_event
from shared.governance.approvals import Approvals
from shared.models.deployment import TAXONOMY_FIELDS, Status, public, taxonomy_key
from shared.store.deployments import DeploymentStore
from shared.store.firestore import commit, owned_data, run_optimistic, run_transaction

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.deployment import DeploymentCreate, DeploymentPatch

# Deployments skipped in one commit: each is two writes (the record, its queue entry), so
# a chunk with the main record and its events stays under Firestore's 500 writes.
SKIP_CHUNK = 200
Events = list[dict[str, Any]]


class _Stale(Exception):
    """What a transaction read changed since the query that found it: query again."""


class DeploymentQueue:
    """The queue's operations for one database, every organisation."""

    def __init__(self, store: DeploymentStore, events: EventSink, approvals: Approvals):
        self.store = store
        self.events = events
        self.approvals = approvals

    def _created(self, org: str, record: dict, principal: Principal, meta) -> Events:
        """A new record's events: created, and approval requested when it waits."""
        events = [self._event(org, rules.CREATED, None, record, principal, meta)]
        if record.get("approval_status") == "pending":
            events.append(
                self.approvals.requested_event(
                    org, "deployment", record, public(record), principal, meta
                )
            )
        return events

    def _event(
        self,
        org: str,
        type_: str,
        before: dict | None,
        after: dict,
        principal: Principal,
        meta: dict | None,
        extra: dict | None = None,
    ) -> dict[str, Any]:
        return build_event(
            org,
            type_,
            f"deployments/{after['id']}",
            None if before is None else public(before),
            public(after),
            principal=principal,
            meta=meta,
            extra=extra,
            # deployq's own moves (a canary's automatic rollback) are made for the creator
            on_behalf_of=after.get("created_by_actor") if principal.kind == "internal" else None,
        )

    # -- reads --------------------------------------------------------------------

    def get(self, org: str, deployment_id: str) -> dict[str, Any]:
        """The record, or NotFound (also for another organisation's id)."""
        return self.store.get(org, deployment_id)

    def list(
        self, org: str, filters: dict[str, Any], limit: int, page_token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; returns the page and the next page's token."""
        return self.store.list(org, filters, limit, page_token)

    # -- create -------------------------------------------------------------------

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
        record = rules.new_record(org, body.model_dump(mode="json"), principal)
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
        """Store a new record (its approval state added) with its event; (record, replayed)."""
        if not idempotency_key:
            # Nothing to read transactionally: one atomic batch (record + its event).
            record = {**record, **self.approvals.approval_fields(org, record)}
            events = self._created(org, record, principal, meta)
            batch = self.store.db.batch()
            self.store.write(batch, org, None, record)
            self.events.record(batch, org, events)
            batch.commit()
            self.store.remember(org, record)
            self.events.publish_soon(org, events)
            return record, False

        def create_once(transaction) -> tuple[dict[str, Any], Events]:
            new = {**record, **self.approvals.approval_fields(org, record, transaction)}
            kept = self.store.kept_request(transaction, org, idempotency_key)
            if kept is not None:
                if kept["request_hash"] != body_hash:
                    raise Conflict(
                        "this Idempotency-Key was used with a different request body",
                        code="idempotency_key_reused",
                    )
                first = self.store.snapshot(org, kept["deployment_id"], transaction)
                return first.to_dict(), []
            self.store.keep_request(transaction, org, idempotency_key, body_hash, new)
            self.store.write(transaction, org, None, new)
            events = self._created(org, new, principal, meta)
            self.events.record(transaction, org, events)
            return new, events

        with self.store.lock(org, f"idem/{idempotency_key}"):
            result, events = run_transaction(self.store.db, create_once)
        self.events.publish_soon(org, events)
        return self.store.remember(org, result), not events

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

        Raises NotFound, Conflict (illegal transition, approval, freeze window) or
        ConcurrentUpdate. Setting the status a deployment already has changes nothing.
        """
        deploys = patch.status == Status.deployed
        first = self.store.read_for_update(org, deployment_id, with_queue=deploys)
        reads = iter([first])

        def attempt() -> tuple[dict[str, Any], Events, int]:
            snapshot, queue_start = next(reads, None) or (
                self.store.snapshot(org, deployment_id),
                None,
            )
            return self._patch_once(org, snapshot, patch, principal, meta, queue_start)

        with self.store.lock(org, first[0].get("taxonomy_key")):
            after, events, older = run_optimistic(attempt)
            if events and older >= SKIP_CHUNK:
                events += self._skip_remaining(org, after, principal, meta)
        self.events.publish_soon(org, events)
        return after

    def _patch_once(
        self,
        org: str,
        snapshot,
        patch: DeploymentPatch,
        principal: Principal,
        meta: dict | None,
        queue_start: list | None,
    ) -> tuple[dict[str, Any], Events, int]:
        """One optimistic attempt: read, decide, then one commit whose preconditions hold
        only if nothing read has changed (else Stale). Returns (record, events, older found).

        Older scheduled deployments come from the taxonomy's queue (no older one can
        appear later: created_at is the creation time) and are read by reference.
        """
        target = patch.status
        before = owned_data(snapshot)
        moves = target is not None and target.value != before["status"]
        older, replaced, floor = [], None, 0
        if moves:
            rules.check_move(before, target)
            self.approvals.check_move(org, before, target, principal, patch.override_reason)
            if target == Status.deployed:
                refs, floor = self.store.scheduled_before(org, before, SKIP_CHUNK, queue_start)
                older = self.store.read(refs)
                replaced = self._replaced(org, before)
        now = clock.now_text()
        after = rules.patched(before, patch, now)
        if after is before:
            return before, [], 0
        batch = self.store.db.batch()
        self.store.write(batch, org, before, after, read_at=snapshot.update_time)
        extra = {"override_reason": patch.override_reason} if patch.override_reason else None
        kind = rules.change_type(before, after)
        events = [self._event(org, kind, before, after, principal, meta, extra)]
        events += self._skip(batch, org, older, after, now, principal, meta)
        if replaced is not None:
            events.append(self._mark_rolled_back(batch, org, replaced, after, now, principal, meta))
        if target == Status.deployed and moves and len(older) < SKIP_CHUNK:
            if self.store.floor_below(floor, after):
                self.store.raise_floor(batch, org, after)
        self.events.record(batch, org, events)
        commit(batch)
        return after, events, len(older)

    def set_status(
        self,
        org: str,
        deployment_id: str,
        status: Status,
        principal: Principal,
        notes: str | None,
        override_reason: str | None = None,
    ) -> dict[str, Any]:
        """A system-initiated status change (canary promote/rollback), same rules as PATCH."""
        from shared.schemas.deployment import DeploymentPatch

        patch = DeploymentPatch(status=status, notes=notes, override_reason=override_reason)
        return self.update(org, deployment_id, patch, principal)

    def claim(
        self, org: str, taxonomy: dict[str, Any], principal: Principal, meta: dict | None = None
    ) -> dict[str, Any]:
        """Move the newest scheduled deployment of a taxonomy to in_progress, skipping older ones.

        NotFound when none is scheduled; Conflict when one is already in progress.
        """
        key = taxonomy_key({name: taxonomy.get(name) or None for name in TAXONOMY_FIELDS})
        with self.store.lock(org, key):
            while True:
                candidates = self.store.newest_scheduled(org, key, SKIP_CHUNK + 1)

                def claim_once(transaction, candidates=candidates):
                    return self._claim_once(transaction, org, key, candidates, principal, meta)

                try:
                    after, events = run_transaction(self.store.db, claim_once)
                    break
                except _Stale:
                    continue  # claimed or changed meanwhile: look again
            if len(candidates) > SKIP_CHUNK:
                events += self._skip_remaining(org, after, principal, meta, verb="claimed")
        self.events.publish_soon(org, events)
        return after

    def _claim_once(
        self, transaction, org: str, key: str, candidates: list, principal: Principal, meta
    ) -> tuple[dict[str, Any], Events]:
        running = self.store.in_progress(org, key, transaction)
        if running is not None:
            raise Conflict(
                f"deployment {running} of this taxonomy is already in progress",
                code="already_in_progress",
            )
        snapshots = self.store.read(candidates, transaction)
        snapshots.sort(key=lambda s: s.get("created_at"), reverse=True)
        if not snapshots:
            raise NotFound("no scheduled deployment of this taxonomy to claim")
        if snapshots[0].get("status") != Status.scheduled.value:
            raise _Stale()
        before = snapshots[0].to_dict()
        self.approvals.check_move(org, before, Status.in_progress, principal, None, transaction)
        now = clock.now_text()
        after = rules.claimed(before, now)
        self.store.write(transaction, org, before, after)
        events = [self._event(org, rules.STATUS_CHANGED, before, after, principal, meta)]
        events += self._skip(
            transaction, org, snapshots[1:], after, now, principal, meta, verb="claimed"
        )
        if len(candidates) <= SKIP_CHUNK:
            self.store.raise_floor(transaction, org, after)
        self.events.record(transaction, org, events)
        return after, events

    # -- auto-skip ----------------------------------------------------------------

    def _replaced(self, org: str, record: dict[str, Any]):
        """The deployed record a rollback replaces (rolled_back once the rollback deploys)."""
        replaced_id = rules.replaces(record)
        if replaced_id is None:
            return None
        snapshot = self.store.snapshot(org, replaced_id)
        if snapshot.exists and snapshot.get("status") == Status.deployed.value:
            return snapshot
        return None

    def _skip(
        self, writer, org: str, snapshots, winner: dict, now: str, principal, meta, verb="deployed"
    ) -> Events:
        """Skip the scheduled ones of `snapshots`, superseded by `winner`; their events."""
        events = []
        for snapshot in snapshots:
            before = owned_data(snapshot)
            after = rules.skipped(before, winner, now, verb)
            if after is None:
                continue
            self.store.write(writer, org, before, after, read_at=snapshot.update_time)
            events.append(self._event(org, rules.STATUS_CHANGED, before, after, principal, meta))
        return events

    def _mark_rolled_back(
        self, writer, org: str, snapshot, rollback: dict, now: str, principal, meta
    ) -> dict[str, Any]:
        before = snapshot.to_dict()
        after = rules.rolled_back(before, rollback, now)
        self.store.write(writer, org, before, after, read_at=snapshot.update_time)
        return self._event(org, rules.STATUS_CHANGED, before, after, principal, meta)

    def _skip_remaining(
        self, org: str, winner: dict[str, Any], principal: Principal, meta, verb: str = "deployed"
    ) -> Events:
        """Auto-skip past one commit's size: further chunks, each its own transaction."""
        events: Events = []
        while True:
            refs, _ = self.store.scheduled_before(org, winner, SKIP_CHUNK)
            if not refs:
                return events

            def skip_chunk(transaction, refs=refs) -> Events:
                snapshots = self.store.read(refs, transaction)
                now = clock.now_text()
                chunk = self._skip(transaction, org, snapshots, winner, now, principal, meta, verb)
                if len(refs) < SKIP_CHUNK:
                    self.store.raise_floor(transaction, org, winner)
                if chunk:
                    self.events.record(transaction, org, chunk)
                return chunk

            events += run_transaction(self.store.db, skip_chunk)
            if len(refs) < SKIP_CHUNK:
                return events
