"""A canary's changes as transactions: reserve its service, lease it, commit a check; each
change that is worth telling (created, status, traffic) is an event in the same commit.

A check holds a lease on the canary (`lease_token`, `lease_until`), so two checks of
one canary never run at once; the result is committed only by the lease holder. The
lease is a read and a write preconditioned on it (nothing changed in between), the
result one preconditioned commit on the record as the lease left it: a check that
leaves the service's lock alone costs three round trips. When anything else wrote the
canary meanwhile, the result goes through a transaction that reads it again. Every
status change is checked against the canary status machine (409 otherwise).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.errors import ConcurrentUpdate, Conflict
from shared.events import EventSink, build_event
from shared.models.canary import FINAL, CanaryStatus, StartOutcome, public, start_decision
from shared.models.canary import transition_error as refusal_of
from shared.store.canaries import CanaryStore
from shared.store.firestore import Stale, commit, run_optimistic, run_transaction

if TYPE_CHECKING:
    from shared.models.principal import Principal


ENDINGS = ("promoted", "aborted", "rolled_back")


class LeaseLost(Exception):
    """Another holder took the canary's lease: this holder's result is not written."""


@dataclass(frozen=True)
class Lease:
    """A hold on one canary: its token, and the record as the lease wrote it (at
    `written_at`), on which the holder's result is preconditioned."""

    token: str
    record: dict[str, Any]
    written_at: datetime


def event_view(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A canary as events carry it: the public fields without the checks."""
    if record is None:
        return None
    view = public(record)
    view.pop("checks", None)
    return view


def event_type(before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
    """The event a change is, if it is one worth telling."""
    if before is None:
        return "deployq.canary.started"
    if before.get("status") != after.get("status"):
        if after.get("status") in ENDINGS:
            return f"deployq.canary.{after['status']}"
        return "deployq.canary.status_changed"  # held, failed, progressing again
    if before.get("traffic_percent") != after.get("traffic_percent"):
        return "deployq.canary.step_changed"
    return None


def check_move(canary_id: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    """409 unless the canary status machine allows the change of status."""
    current, target = CanaryStatus(before["status"]), CanaryStatus(after["status"])
    if current != target:
        refusal = refusal_of(current, target)
        if refusal:
            raise Conflict(f"canary {canary_id}: {refusal}", code="invalid_transition")


class CanaryRecords:
    """The canary store's reads, and its writes as transactions with their events."""

    def __init__(self, store: CanaryStore, events: EventSink | None = None):
        self.store = store
        self.events = events
        self.get = store.get
        self.checks = store.checks
        self.list = store.list
        self.due = store.due
        self.sync_pending = store.sync_pending

    def _record_event(self, transaction, org, before, after, principal) -> list[dict]:
        kind = event_type(before, after)
        if self.events is None or kind is None:
            return []
        event = build_event(
            org,
            kind,
            f"canaries/{after['id']}",
            event_view(before),
            event_view(after),
            principal=principal,
            extra={
                "reason": after.get("reason"),
                "override_reason": after.get("override_reason") if before is None else None,
            },
            # deployq's own moves (checks, automatic rollbacks) are made for the canary's starter
            on_behalf_of=(
                after.get("created_by_actor")
                if principal is not None and principal.kind == "internal"
                else None
            ),
        )
        self.events.record(transaction, org, [event])
        return [event]

    def _run(self, org: str, body: Callable[[Any], tuple[Any, list[dict]]]) -> Any:
        """Run a transaction returning (result, its events); publish them once it committed."""
        result, events = run_transaction(self.store.db, body)
        self._publish(org, events)
        return result

    def _publish(self, org: str, events: list[dict]) -> None:
        """Publish committed events (in the background)."""
        if self.events is not None and events:
            self.events.publish_soon(org, events)

    def reserve(self, org: str, record: dict[str, Any], principal: Principal | None = None):
        """Store a new canary as its service's active one.

        Conflict (409) when the service already has an active canary, or when this
        revision was rolled back or aborted before (a rollback sticks).
        """
        store, key = self.store, record["service_key"]

        def body(transaction):
            active = store.active_of_service(transaction, org, key)
            rejected = store.rejected(transaction, org, key, record["canary_revision"])
            decision = start_decision(record["canary_revision"], active, rejected)
            if decision.outcome != StartOutcome.start:
                code = (
                    "canary_active"
                    if decision.outcome == StartOutcome.conflict
                    else "revision_rejected"
                )
                raise Conflict(decision.reason, code=code)
            store.create(transaction, org, record)
            return record, self._record_event(transaction, org, None, record, principal)

        return self._run(org, body)

    def update(self, org: str, canary_id: str, changes: dict[str, Any], principal=None):
        """Merge `changes` into the record (start-up steps, outside any lease)."""
        store = self.store

        def body(transaction):
            current = store.read(transaction, org, canary_id)
            after = dict(current, **changes, updated_at=clock.now_text())
            check_move(canary_id, current, after)
            service = store.service_holder(transaction, org, after)
            store.write(transaction, org, after, service)
            return after, self._record_event(transaction, org, current, after, principal)

        return self._run(org, body)

    def commit(
        self,
        org: str,
        canary_id: str,
        lease: Lease,
        changes: dict[str, Any],
        check: dict[str, Any] | None = None,
        principal=None,
    ) -> dict[str, Any]:
        """Write the lease holder's result (and check), release the lease; else LeaseLost."""
        if CanaryStatus(changes.get("status", lease.record["status"])) not in FINAL:
            try:
                return self._commit_unchanged(org, lease, changes, check, principal)
            except Stale:
                pass  # written meanwhile: read it again in a transaction
        store = self.store

        def body(transaction):
            current = store.read(transaction, org, canary_id)
            if current.get("lease_token") != lease.token:
                raise LeaseLost(f"canary {canary_id}: lease taken by another check")
            after = self._result(canary_id, current, changes, check)
            service = store.service_holder(transaction, org, after)
            if check is not None:
                store.write_check(transaction, org, canary_id, check)
            store.write(transaction, org, after, service)
            return after, self._record_event(transaction, org, current, after, principal)

        return self._run(org, body)

    def _commit_unchanged(self, org, lease: Lease, changes, check, principal) -> dict[str, Any]:
        """The result in one commit, if the record is still as the lease left it (else
        Stale); only for a result that leaves the service's lock alone."""
        before = lease.record
        after = self._result(before["id"], before, changes, check)
        batch = self.store.db.batch()
        if check is not None:
            self.store.write_check(batch, org, before["id"], check)
        self.store.write_changes(batch, org, before, after, lease.written_at)
        events = self._record_event(batch, org, before, after, principal)
        commit(batch)  # Stale when the record changed since the lease
        self._publish(org, events)
        return after

    @staticmethod
    def _result(canary_id, current, changes, check) -> dict[str, Any]:
        """The record after a holder's result: its changes, its check, no lease."""
        after = dict(current, **changes, lease_token=None, lease_until=None)
        after["updated_at"] = clock.now_text()
        check_move(canary_id, current, after)
        if check is not None:
            after["last_check"] = check
        return after

    def lease(
        self,
        org: str,
        canary_id: str,
        now: datetime,
        seconds: float,
        *,
        accept: Callable[[dict[str, Any]], bool],
    ) -> tuple[dict[str, Any], Lease] | None:
        """Take the canary's lease if no one holds it and `accept(record)`."""
        verdict, taken = self._lease(org, canary_id, now, seconds, accept)
        return taken if verdict == "taken" else None

    def _lease(self, org, canary_id, now: datetime, seconds: float, accept):
        """("taken", (record, lease)), ("held", None) or ("refused", None), decided on one
        read and written only if the record is still as read (else read again)."""
        token = secrets.token_hex(8)
        store = self.store

        def attempt():
            record, read_at = store.snapshot(org, canary_id)
            held_until = record.get("lease_until")
            if held_until and held_until > clock.to_text(now):
                return "held", None
            if not accept(record):
                return "refused", None
            until = clock.to_text(now + timedelta(seconds=seconds))
            written_at = store.take_lease(org, canary_id, token, until, read_at)
            leased = dict(record, lease_token=token, lease_until=until)
            return "taken", (leased, Lease(token, leased, written_at))

        return run_optimistic(attempt)

    def lease_waiting(
        self, org: str, canary_id: str, seconds: float, wait: float, accept
    ) -> tuple[dict[str, Any], Lease] | None:
        """`lease`, waiting up to `wait` seconds for a running check to finish.

        Returns None when `accept` refuses the record; ConcurrentUpdate when the lease
        stayed taken.
        """
        deadline = time.monotonic() + wait
        while True:
            verdict, taken = self._lease(org, canary_id, clock.utcnow(), seconds, accept)
            if verdict != "held":
                return taken
            if time.monotonic() > deadline:
                raise ConcurrentUpdate("a check of this canary is running right now; retry")
            time.sleep(0.1)

    def release(self, org: str, canary_id: str, lease: Lease) -> None:
        """Give the lease back without changes (nothing to do after all)."""
        store = self.store

        def body(transaction):
            current = store.read(transaction, org, canary_id)
            if current.get("lease_token") == lease.token:
                store.set_lease(transaction, org, canary_id, None, None)

        run_transaction(store.db, body)
