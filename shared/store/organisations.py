"""Organisation records in the control-plane Firestore: `organisations/{org}`.

The record is the parent document of the organisation's data; deleting it removes the
grants, never the data below it. The service decides and emits events; this store
reads and writes.
"""

from __future__ import annotations

from typing import Any

COLLECTION = "organisations"


class OrganisationStore:
    """Read, list, write and delete organisation records."""

    def __init__(self, db):
        self.db = db

    def ref(self, org: str):
        return self.db.collection(COLLECTION).document(org)

    def get(self, org: str, transaction=None) -> dict[str, Any] | None:
        snapshot = self.ref(org).get(transaction=transaction)
        return snapshot.to_dict() if snapshot.exists else None

    def list(self, limit: int, after: str | None) -> tuple[list[tuple[str, dict]], str | None]:
        """(org, stored record) in name order, and the name to continue after (None: done)."""
        query = self.db.collection(COLLECTION).order_by("__name__")
        if after:
            query = query.start_after({"__name__": self.ref(after)})
        snaps = list(query.limit(limit + 1).stream())
        items = [(s.id, s.to_dict()) for s in snaps[:limit]]
        return items, (items[-1][0] if len(snaps) > limit else None)

    def write(self, writer, org: str, record: dict[str, Any]) -> None:
        """Set the record with `writer` (a transaction after its reads, or a batch)."""
        writer.set(self.ref(org), record)

    def delete(self, writer, org: str) -> None:
        writer.delete(self.ref(org))
