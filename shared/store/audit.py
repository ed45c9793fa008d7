"""The audit log in Firestore: `organisations/{org}/audit_logs/{sha256(event id)}`.

Written only by the events function (one entry per event id, created once); read
newest first with equality filters and a time range.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import BadRequest
from shared.store.firestore import every

DESC = firestore.Query.DESCENDING


def document_id(event_id: str) -> str:
    """The entry's document id: derived from the event id, so an event writes one entry."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:40]


EXPORT_PAGE = 1000


def encode_token(entry: dict[str, Any]) -> str:
    raw = json.dumps([entry["time"], document_id(entry["event_id"])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, str]:
    try:
        time, doc_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        clock.parse(time)
        if not isinstance(doc_id, str) or len(doc_id) != 40:
            raise ValueError("bad id")
        return time, doc_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            "page_token is not a token this API returned",
            details=[{"field": "page_token", "error": "invalid"}],
        ) from None


class AuditStore:
    """Audit entries of every organisation."""

    def __init__(self, db: firestore.Client):
        self.db = db

    def collection(self, org: str):
        return self.db.collection("organisations").document(org).collection("audit_logs")

    def add(self, org: str, entry: dict[str, Any]) -> bool:
        """Write an entry once; False when this event's entry already exists."""
        ref = self.collection(org).document(document_id(entry["event_id"]))
        try:
            ref.create(entry)
        except gexc.AlreadyExists:
            return False
        return True

    def get(self, org: str, entry_id: str) -> dict[str, Any] | None:
        """One entry of `org` by its id (None when `org` has no such entry)."""
        query = self.collection(org).where(filter=FieldFilter("id", "==", entry_id)).limit(1)
        found = [snap.to_dict() for snap in query.stream()]
        return found[0] if found else None

    def _query(self, org: str, filters: dict[str, Any], start: str | None, end: str | None):
        query = self.collection(org)
        for name, value in filters.items():
            query = query.where(filter=FieldFilter(name, "==", value))
        if start:
            query = query.where(filter=FieldFilter("time", ">=", start))
        if end:
            query = query.where(filter=FieldFilter("time", "<", end))
        return query.order_by("time", direction=DESC).order_by("__name__", direction=DESC)

    def list(
        self,
        org: str,
        filters: dict[str, Any],
        start: str | None,
        end: str | None,
        limit: int,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; returns one page and the next page's token."""
        query = self._query(org, filters, start, end)
        if page_token:
            time, doc_id = decode_token(page_token)
            query = query.start_after(
                {"time": time, "__name__": self.collection(org).document(doc_id)}
            )
        entries = [s.to_dict() for s in query.limit(limit + 1).stream()]
        token = encode_token(entries[limit - 1]) if len(entries) > limit else None
        return entries[:limit], token

    def iterate(
        self, org: str, filters: dict[str, Any], start: str | None, end: str | None
    ) -> Iterator[dict[str, Any]]:
        """Every matching entry, newest first, read page by page (for streaming exports)."""
        for snapshot in every(self._query(org, filters, start, end), EXPORT_PAGE):
            yield snapshot.to_dict()
