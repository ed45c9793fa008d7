"""Organisation records in the control-plane Firestore: `organisations/{org}`.

The record is the parent document of the organisation's data; deleting it removes the
grants, never the data below it. Every change commits with its
`deployq.organisation.updated` event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.events import EventSink, build_event
from shared.store.firestore import run_transaction

if TYPE_CHECKING:
    from shared.auth import Principal

COLLECTION = "organisations"
EVENT_TYPE = "deployq.organisation.updated"


class Unchanged:
    """A decision that writes nothing."""


class Delete:
    """A decision that removes the record."""


Decision = dict[str, Any] | type[Unchanged] | type[Delete]


class OrganisationStore:
    """Read, list and change organisation records; a change and its event commit together."""

    def __init__(self, db, events: EventSink | None = None):
        self.db = db
        self.events = events

    def ref(self, org: str):
        return self.db.collection(COLLECTION).document(org)

    def get(self, org: str) -> dict[str, Any] | None:
        snapshot = self.ref(org).get()
        return snapshot.to_dict() if snapshot.exists else None

    def list(self, limit: int, after: str | None) -> tuple[list[tuple[str, dict]], str | None]:
        """(org, stored record) in name order, and the name to continue after (None: done)."""
        query = self.db.collection(COLLECTION).order_by("__name__")
        if after:
            query = query.start_after({"__name__": self.ref(after)})
        snaps = list(query.limit(limit + 1).stream())
        items = [(s.id, s.to_dict()) for s in snaps[:limit]]
        return items, (items[-1][0] if len(snaps) > limit else None)

    def change(
        self,
        org: str,
        decide: Callable[[dict[str, Any] | None], Decision],
        principal: Principal | None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Apply `decide(stored or None)` in a transaction; (before, after) as committed.

        `decide` returns the new record, `Unchanged` or `Delete`; it may raise to refuse.
        """
        ref = self.ref(org)

        def body(transaction):
            snapshot = ref.get(transaction=transaction)
            before = snapshot.to_dict() if snapshot.exists else None
            decision = decide(before)
            if decision is Unchanged:
                return before, before, []
            after = None if decision is Delete else decision
            if after is None:
                if before is None:
                    return None, None, []
                transaction.delete(ref)
            else:
                transaction.set(ref, after)
            events = []
            if self.events is not None:
                events.append(
                    build_event(
                        org,
                        EVENT_TYPE,
                        f"{COLLECTION}/{org}",
                        before,
                        after,
                        principal=principal,
                        meta=meta,
                        time=(after or {}).get("updated_at"),
                    )
                )
                self.events.record(transaction, org, events)
            return before, after, events

        before, after, events = run_transaction(self.db, body)
        if self.events is not None and events:
            self.events.publish_soon(org, events)
        return before, after
