"""An organisation's environment database: the data packages are packed from and deployed to.

Documents by collection and id, read and written in the few shapes packages need;
values pass through as the Firestore client reads and takes them (`client` is
there for decoding references).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

MAX_COMMIT_WRITES = 500


class EnvironmentDatabase:
    """One environment's Firestore database."""

    def __init__(self, client: firestore.Client):
        self.client = client

    def stream(self, collection: str) -> Iterator[Any]:
        """Every document of a top-level collection, in document-id order, as one stream (the
        client resumes it after a transient error; pages with cursors are far slower)."""
        return self.client.collection(collection).order_by("__name__").stream()

    def ids(self, collection: str, limit: int) -> set[str] | None:
        """The document ids of a collection (keys only); None when it has more than `limit`."""
        query = self.client.collection(collection).select([]).limit(limit + 1)
        ids = {snap.id for snap in query.stream()}
        return ids if len(ids) <= limit else None

    def get_many(self, collection: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """{id: fields} of the documents of `keys` that exist (one get_all)."""
        coll = self.client.collection(collection)
        snaps = self.client.get_all([coll.document(k) for k in keys])
        return {snap.id: snap.to_dict() for snap in snaps if snap.exists}

    def has_value(self, collection: str, column: str, value: Any) -> bool:
        """Whether a document of `collection` holds `value` in `column`."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter(column, "==", value))
            .limit(1)
        )
        return any(True for _ in query.stream())

    def max_number(self, collection: str, field: str) -> int:
        """The largest number in `field` of a collection, as an integer (0 when none)."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter(field, ">=", -(2**63)))
            .order_by(field, direction=firestore.Query.DESCENDING)
            .limit(1)
        )
        for snap in query.stream():
            value = snap.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        return 0

    def set_many(self, writes: list[tuple[str, str, dict[str, Any], bool]]) -> None:
        """(collection, id, fields, merge) of up to 500 documents, in one commit."""
        batch = self.client.batch()
        for collection, key, data, merge in writes:
            batch.set(self.client.collection(collection).document(key), data, merge=merge)
        batch.commit()

    def restore(self, documents: Iterator[tuple[str, str, dict[str, Any] | None]]) -> int:
        """Set each (collection, id) to its fields, or delete it for None, 500 per commit;
        how many documents."""
        batch, pending, count = self.client.batch(), 0, 0
        for collection, key, data in documents:
            ref = self.client.collection(collection).document(key)
            if data is None:
                batch.delete(ref)
            else:
                batch.set(ref, data)
            pending += 1
            count += 1
            if pending == MAX_COMMIT_WRITES:
                batch.commit()
                batch, pending = self.client.batch(), 0
        if pending:
            batch.commit()
        return count
