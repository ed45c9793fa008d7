"""Canary rollouts in Firestore: reads and writes of one canary and its service lock.

Layout (every tenant under its own path):

    organisations/{org}/canaries/{id}                   one rollout (status, next_check_at)
    organisations/{org}/canaries/{id}/checks/{number}   one check each (zero-padded number)
    organisations/{org}/canary_services/{service_key}   the service's active canary (one at a time)

The transactions that compose these reads and writes (reserve a service, lease a
canary, commit a check with its event) are the canary service's
(`shared.canary.records`). The sweep finds overdue canaries with one
collection-group query on (`status`, `next_check_at`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import NotFound
from shared.models.canary import ACTIVE, FINAL, CanaryStatus
from shared.models.ids import UUID
from shared.store import writes
from shared.store.firestore import Stale
from shared.store.tenancy import tenant_documents

REJECTED = (CanaryStatus.rolled_back.value, CanaryStatus.aborted.value)
DESC = firestore.Query.DESCENDING


def check_id(canary_id: str) -> str:
    if not isinstance(canary_id, str) or not UUID.match(canary_id):
        raise NotFound(f"canary {canary_id} not found")
    return canary_id


def service_key(project: str, region: str, service: str) -> str:
    return hashlib.sha256(f"{project}/{region}/{service}".encode()).hexdigest()[:40]


class CanaryStore:
    """Canary records, their checks and their services' lock documents."""

    def __init__(self, db: firestore.Client):
        self.db = db

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

    def snapshot(self, org: str, canary_id: str) -> tuple[dict[str, Any], datetime]:
        """The record and the time it was last written (a write's precondition)."""
        snapshot = self._ref(org, canary_id).get()
        if not snapshot.exists:
            raise NotFound(f"canary {canary_id} not found")
        return snapshot.to_dict(), snapshot.update_time

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
        )
        return [(org, s.id) for org, s in tenant_documents(query, limit)]

    def sync_pending(self, limit: int) -> list[dict[str, Any]]:
        """Canaries whose linked deployment still awaits its update."""
        query = (
            self.db.collection_group("canaries")
            .where(filter=FieldFilter("deployment_sync_pending", "==", True))
            .order_by("updated_at")
        )
        found = tenant_documents(query, limit)
        return [dict(s.to_dict(), organisation=org) for org, s in found]

    # -- reads and writes inside a transaction ------------------------------------

    def read(self, transaction, org: str, canary_id: str) -> dict[str, Any]:
        """The record, read in `transaction`; NotFound when it does not exist."""
        snapshot = self._ref(org, canary_id).get(transaction=transaction)
        if not snapshot.exists:
            raise NotFound(f"canary {canary_id} not found")
        return snapshot.to_dict()

    def active_of_service(self, transaction, org: str, key: str) -> dict[str, Any] | None:
        """The service's progressing or held canary, read in `transaction`."""
        service = self._service_ref(org, key).get(transaction=transaction)
        active_id = service.get("active_canary_id") if service.exists else None
        if not active_id:
            return None
        snapshot = self._ref(org, active_id).get(transaction=transaction)
        if snapshot.exists and CanaryStatus(snapshot.get("status")) in ACTIVE:
            return snapshot.to_dict()
        return None

    def rejected(self, transaction, org: str, key: str, revision: str) -> dict[str, Any] | None:
        """A canary of this revision of the service that was rolled back or aborted."""
        query = (
            self.collection(org)
            .where(filter=FieldFilter("service_key", "==", key))
            .where(filter=FieldFilter("canary_revision", "==", revision))
            .where(filter=FieldFilter("status", "in", list(REJECTED)))
            .limit(1)
        )
        found = [s.to_dict() for s in query.stream(transaction)]
        return found[0] if found else None

    def create(self, transaction, org: str, record: dict[str, Any]) -> None:
        """A new canary, made its service's active one."""
        transaction.create(self._ref(org, record["id"]), record)
        transaction.set(
            self._service_ref(org, record["service_key"]),
            {"active_canary_id": record["id"], "updated_at": record["created_at"]},
        )

    def service_holder(self, transaction, org: str, record: dict[str, Any]):
        """The service's lock document, read (before any write) when `record` is final."""
        if CanaryStatus(record["status"]) not in FINAL:
            return None
        return self._service_ref(org, record["service_key"]).get(transaction=transaction)

    def write(self, transaction, org: str, record: dict[str, Any], service=None) -> None:
        """Replace the record; a final one frees `service` (its lock, if it still holds it)."""
        transaction.set(self._ref(org, record["id"]), record)
        if (
            service is not None
            and service.exists
            and service.get("active_canary_id") == record["id"]
        ):
            transaction.update(
                service.reference, {"active_canary_id": None, "updated_at": record["updated_at"]}
            )

    def write_check(self, transaction, org: str, canary_id: str, check: dict[str, Any]) -> None:
        transaction.set(self._checks(org, canary_id).document(f"{check['number']:08d}"), check)

    def set_lease(self, transaction, org: str, canary_id: str, token, until) -> None:
        transaction.update(self._ref(org, canary_id), {"lease_token": token, "lease_until": until})

    # -- writes preconditioned on what was read (one round trip, no transaction) ----

    def take_lease(self, org: str, canary_id: str, token: str, until: str, read_at) -> datetime:
        """Set the lease if the record is still as read at `read_at`; the time it was
        written. Stale when the record changed since."""
        option = self.db.write_option(last_update_time=read_at)
        try:
            result = self._ref(org, canary_id).update(
                {"lease_token": token, "lease_until": until}, option
            )
        except gexc.FailedPrecondition as exc:
            raise Stale(str(exc)) from None
        return result.update_time

    def write_changes(self, batch, org: str, before, after, read_at) -> None:
        """Write, with `batch`, the fields of `after` that differ from `before`; the commit
        fails (FailedPrecondition) unless the record is still as written at `read_at`."""
        writes.update_changed(batch, self._ref(org, after["id"]), before, after, read_at)
