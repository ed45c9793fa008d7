"""Canary rollouts in Firestore.

Layout (every tenant under its own path):

    organisations/{org}/canaries/{id}                   one rollout (status, next_check_at)
    organisations/{org}/canaries/{id}/checks/{number}   one check each (zero-padded number)
    organisations/{org}/canary_services/{service_key}   the service's active canary (one at a time)

A check holds a lease on the canary (`lease_token`, `lease_until`) taken in a
transaction, so two checks of one canary never run at once; the result is
committed only by the lease holder. The sweep finds overdue canaries with one
collection-group query on (`status`, `next_check_at`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import ConcurrentUpdate, Conflict, NotFound
from shared.models.canary import (
    ACTIVE,
    FINAL,
    CanaryStatus,
    StartOutcome,
    start_decision,
    transition_error,
)
from shared.models.ids import UUID
from shared.store.firestore import run_transaction
from shared.store.tenancy import tenant_of

REJECTED = (CanaryStatus.rolled_back.value, CanaryStatus.aborted.value)
DESC = firestore.Query.DESCENDING


class LeaseLost(Exception):
    """Another holder took the canary's lease: this holder's result is not written."""


def check_id(canary_id: str) -> str:
    if not isinstance(canary_id, str) or not UUID.match(canary_id):
        raise NotFound(f"canary {canary_id} not found")
    return canary_id


def _check_move(canary_id: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    """409 unless the canary status machine allows the change of status."""
    current, target = CanaryStatus(before["status"]), CanaryStatus(after["status"])
    if current != target:
        refusal = transition_error(current, target)
        if refusal:
            raise Conflict(f"canary {canary_id}: {refusal}", code="invalid_transition")


def service_key(project: str, region: str, service: str) -> str:
    return hashlib.sha256(f"{project}/{region}/{service}".encode()).hexdigest()[:40]


def event_view(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A canary as events carry it: the public fields without the checks."""
    if record is None:
        return None
    from shared.models.canary import public

    view = public(record)
    view.pop("checks", None)
    return view


class CanaryStore:
    """Canary records, their checks and the one-active-canary-per-service rule.

    With a `sink` (shared.events.EventSink), every creation, status change and traffic
    change writes a CloudEvent in the same transaction and publishes it after commit.
    A status change must be allowed by the canary status machine (409 otherwise).
    """

    def __init__(self, db: firestore.Client, sink=None):
        self.db = db
        self.sink = sink

    def _events(self, transaction, org, before, after, principal) -> list[dict[str, Any]]:
        """Record the event of a change (if it is one worth telling) in `transaction`."""
        if self.sink is None:
            return []
        from shared.events import build_event

        if before is None:
            kind = "deployq.canary.created"
        elif before.get("status") != after.get("status"):
            kind = "deployq.canary.status_changed"
        elif before.get("traffic_percent") != after.get("traffic_percent"):
            kind = "deployq.canary.traffic_changed"
        else:
            return []
        event = build_event(
            org,
            kind,
            f"canaries/{after['id']}",
            event_view(before),
            event_view(after),
            principal=principal,
            extra={"reason": after.get("reason")},
        )
        self.sink.record(transaction, org, [event])
        return [event]

    def _publish(self, org: str, events: list[dict[str, Any]]) -> None:
        if self.sink is not None and events:
            self.sink.publish_soon(org, events)

    # -- paths --------------------------------------------------------------------

    def collection(self, org: str):
        return self.db.collection("organisations").document(org).collection("canaries")

    def _ref(self, org: str, canary_id: str):
        return self.collection(org).document(check_id(canary_id))

    def _service_ref(self, org: str, key: str):
        return (
            self.db.collection("organisations")
            .document(org)
            .collection("canary_services")
            .document(key)
        )

    def _checks(self, org: str, canary_id: str):
        return self._ref(org, canary_id).collection("checks")

    # -- reads --------------------------------------------------------------------

    def get(self, org: str, canary_id: str) -> dict[str, Any]:
        """The record, or NotFound (also for another organisation's id)."""
        snapshot = self._ref(org, canary_id).get()
        if not snapshot.exists:
            raise NotFound(f"canary {canary_id} not found")
        return snapshot.to_dict()

    def checks(self, org: str, canary_id: str) -> list[dict[str, Any]]:
        """Every check of a canary, oldest first."""
        return [s.to_dict() for s in self._checks(org, canary_id).order_by("number").stream()]

    def list(self, org: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Newest first, optionally of one status."""
        query = self.collection(org)
        if status:
            query = query.where(filter=FieldFilter("status", "==", status))
        query = query.order_by("created_at", direction=DESC).limit(limit)
        return [s.to_dict() for s in query.stream()]

    def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(organisation, id) of progressing canaries whose next check is at or before `now`."""
        query = (
            self.db.collection_group("canaries")
            .where(filter=FieldFilter("status", "==", CanaryStatus.progressing.value))
            .where(filter=FieldFilter("next_check_at", "<=", clock.to_text(now)))
            .order_by("next_check_at")
            .limit(limit)
        )
        found = [(tenant_of(s.reference), s.id) for s in query.stream()]
        return [(org, canary_id) for org, canary_id in found if org is not None]

    def sync_pending(self, limit: int) -> list[dict[str, Any]]:
        """Canaries whose linked deployment still awaits its update."""
        query = (
            self.db.collection_group("canaries")
            .where(filter=FieldFilter("deployment_sync_pending", "==", True))
            .order_by("updated_at")
            .limit(limit)
        )
        found = [(tenant_of(s.reference), s.to_dict()) for s in query.stream()]
        return [dict(record, organisation=org) for org, record in found if org is not None]

    # -- writes -------------------------------------------------------------------

    def reserve(self, org: str, record: dict[str, Any], principal=None) -> dict[str, Any]:
        """Store a new canary as its service's active one.

        Conflict (409) when the service already has an active canary, or when this
        revision was rolled back or aborted before (a rollback sticks).
        """
        ref = self._ref(org, record["id"])
        service_ref = self._service_ref(org, record["service_key"])
        rejected_query = (
            self.collection(org)
            .where(filter=FieldFilter("service_key", "==", record["service_key"]))
            .where(filter=FieldFilter("canary_revision", "==", record["canary_revision"]))
            .where(filter=FieldFilter("status", "in", list(REJECTED)))
            .limit(1)
        )

        def body(transaction):
            service = service_ref.get(transaction=transaction)
            active = None
            active_id = service.get("active_canary_id") if service.exists else None
            if active_id:
                snapshot = self._ref(org, active_id).get(transaction=transaction)
                if snapshot.exists and CanaryStatus(snapshot.get("status")) in ACTIVE:
                    active = snapshot.to_dict()
            rejected = [s.to_dict() for s in rejected_query.stream(transaction)]
            decision = start_decision(
                record["canary_revision"], active, rejected[0] if rejected else None
            )
            if decision.outcome != StartOutcome.start:
                code = (
                    "canary_active"
                    if decision.outcome == StartOutcome.conflict
                    else ("revision_rejected")
                )
                raise Conflict(decision.reason, code=code)
            transaction.create(ref, record)
            transaction.set(
                service_ref,
                {"active_canary_id": record["id"], "updated_at": record["created_at"]},
            )
            return record, self._events(transaction, org, None, record, principal)

        created, events = run_transaction(self.db, body)
        self._publish(org, events)
        return created

    def update(
        self, org: str, canary_id: str, changes: dict[str, Any], principal=None
    ) -> dict[str, Any]:
        """Merge `changes` into the record (start-up steps, outside any lease)."""
        ref = self._ref(org, canary_id)

        def body(transaction):
            current = ref.get(transaction=transaction).to_dict()
            after = dict(current, **changes, updated_at=clock.now_text())
            _check_move(canary_id, current, after)
            service = self._service_snapshot(transaction, org, after)
            transaction.set(ref, after)
            self._release_service(transaction, service, after)
            return after, self._events(transaction, org, current, after, principal)

        after, events = run_transaction(self.db, body)
        self._publish(org, events)
        return after

    def lease(
        self,
        org: str,
        canary_id: str,
        now: datetime,
        seconds: float,
        *,
        accept: Callable[[dict[str, Any]], bool],
    ) -> tuple[dict[str, Any], str] | None:
        """Take the canary's lease in a transaction if no one holds it and `accept(record)`."""
        ref = self._ref(org, canary_id)
        token = secrets.token_hex(8)

        def body(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFound(f"canary {canary_id} not found")
            record = snapshot.to_dict()
            held_until = record.get("lease_until")
            if held_until and held_until > clock.to_text(now):
                return None
            if not accept(record):
                return None
            until = clock.to_text(now + timedelta(seconds=seconds))
            transaction.update(ref, {"lease_token": token, "lease_until": until})
            return dict(record, lease_token=token, lease_until=until), token

        return run_transaction(self.db, body)

    def lease_waiting(
        self, org: str, canary_id: str, seconds: float, wait: float, accept
    ) -> tuple[dict[str, Any], str] | None:
        """`lease`, waiting up to `wait` seconds for a running check to finish.

        Returns None when `accept` refuses the record; ConcurrentUpdate when the lease
        stayed taken.
        """
        deadline = time.monotonic() + wait
        refused = {}

        def accepting(record):
            ok = accept(record)
            refused["value"] = not ok
            return ok

        while True:
            refused.clear()
            taken = self.lease(org, canary_id, clock.utcnow(), seconds, accept=accepting)
            if taken is not None or refused.get("value"):
                return taken
            if time.monotonic() > deadline:
                raise ConcurrentUpdate("a check of this canary is running right now; retry")
            time.sleep(0.1)

    def commit(
        self,
        org: str,
        canary_id: str,
        token: str,
        changes: dict[str, Any],
        check: dict[str, Any] | None = None,
        principal=None,
    ) -> dict[str, Any]:
        """Write the lease holder's result (and check), release the lease; else LeaseLost."""
        ref = self._ref(org, canary_id)

        def body(transaction):
            current = ref.get(transaction=transaction).to_dict()
            if current.get("lease_token") != token:
                raise LeaseLost(f"canary {canary_id}: lease taken by another check")
            after = dict(current, **changes, lease_token=None, lease_until=None)
            after["updated_at"] = clock.now_text()
            _check_move(canary_id, current, after)
            service = self._service_snapshot(transaction, org, after)
            if check is not None:
                after["last_check"] = check
                transaction.set(
                    self._checks(org, canary_id).document(f"{check['number']:08d}"), check
                )
            transaction.set(ref, after)
            self._release_service(transaction, service, after)
            return after, self._events(transaction, org, current, after, principal)

        after, events = run_transaction(self.db, body)
        self._publish(org, events)
        return after

    def release(self, org: str, canary_id: str, token: str) -> None:
        """Give the lease back without changes (nothing to do after all)."""
        ref = self._ref(org, canary_id)

        def body(transaction):
            current = ref.get(transaction=transaction).to_dict()
            if current.get("lease_token") == token:
                transaction.update(ref, {"lease_token": None, "lease_until": None})

        run_transaction(self.db, body)

    def _service_snapshot(self, transaction, org: str, record: dict[str, Any]):
        """The service's lock document, read (before any write) when `record` is final."""
        if CanaryStatus(record["status"]) not in FINAL:
            return None
        return self._service_ref(org, record["service_key"]).get(transaction=transaction)

    def _release_service(self, transaction, service, record: dict[str, Any]) -> None:
        """A final canary frees its service for the next rollout (if it still holds it)."""
        if (
            service is not None
            and service.exists
            and service.get("active_canary_id") == record["id"]
        ):
            transaction.update(
                service.reference, {"active_canary_id": None, "updated_at": record["updated_at"]}
            )
