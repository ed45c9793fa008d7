"""Runbooks in Firestore: `organisations/{org}/runbooks/{id}`.

Each document carries its search index (`search_grams`) and the index's version
(`search_index`). Runbooks written before the index existed have neither; a search
counts the organisation's runbooks and its indexed ones (two count aggregations) and,
when they differ, indexes the others first, so no migration is needed and a search
never misses an old runbook.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import NotFound
from shared.models import runbook as runbooks
from shared.models.ids import UUID
from shared.store.firestore import every, run_transaction

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.governance import RunbookBody

PAGE = 500
# The search index kept on each runbook document and its version, never shown.
INDEX_FIELD = "search_grams"
VERSION_FIELD = "search_index"
INDEX_VERSION = 1
HIDDEN = (INDEX_FIELD, VERSION_FIELD)


def _shown(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in HIDDEN}


def _index(record: dict[str, Any]) -> dict[str, Any]:
    return {INDEX_FIELD: runbooks.grams(record), VERSION_FIELD: INDEX_VERSION}


def _indexed(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, **_index(record)}


def _count(query) -> int:
    return int(query.count().get()[0][0].value)


class RunbookStore:
    def __init__(self, db: firestore.Client):
        self.db = db

    def collection(self, org: str):
        return self.db.collection("organisations").document(org).collection("runbooks")

    def _ref(self, org: str, runbook_id: str):
        if not isinstance(runbook_id, str) or not UUID.match(runbook_id):
            raise NotFound(f"runbook {runbook_id} not found")
        return self.collection(org).document(runbook_id)

    def create(self, org: str, body: RunbookBody, principal: Principal) -> dict[str, Any]:
        now = clock.now_text()
        record = {
            **body.model_dump(mode="json"),
            "id": str(uuid.uuid4()),
            "created_at": now,
            "updated_at": now,
            "created_by": principal.actor or principal.subject,
        }
        self.collection(org).document(record["id"]).create(_indexed(record))
        return record

    def get(self, org: str, runbook_id: str) -> dict[str, Any]:
        snapshot = self._ref(org, runbook_id).get()
        if not snapshot.exists:
            raise NotFound(f"runbook {runbook_id} not found")
        return _shown(snapshot.to_dict())

    def replace(self, org: str, runbook_id: str, body: RunbookBody) -> dict[str, Any]:
        ref = self._ref(org, runbook_id)

        def body_(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFound(f"runbook {runbook_id} not found")
            current = snapshot.to_dict()
            record = {
                **body.model_dump(mode="json"),
                "id": runbook_id,
                "created_at": current["created_at"],
                "created_by": current.get("created_by"),
                "updated_at": clock.now_text(),
            }
            transaction.set(ref, _indexed(record))
            return record

        return run_transaction(self.db, body_)

    def delete(self, org: str, runbook_id: str) -> None:
        self.get(org, runbook_id)
        self._ref(org, runbook_id).delete()

    def index_missing(self, org: str) -> int:
        """Index the organisation's runbooks written without the current index; how many.

        Costs two count aggregations when every runbook is indexed. A runbook changed or
        deleted meanwhile is left to its writer (the next search checks again)."""
        indexed = self.collection(org).where(filter=FieldFilter(VERSION_FIELD, "==", INDEX_VERSION))
        if _count(self.collection(org)) == _count(indexed):
            return 0
        done = 0
        for snapshot in every(self.collection(org).order_by("__name__"), PAGE):
            document = snapshot.to_dict()
            if document.get(VERSION_FIELD) == INDEX_VERSION:
                continue
            option = self.db.write_option(last_update_time=snapshot.update_time)
            try:
                snapshot.reference.update(_index(document), option=option)
            except (gexc.FailedPrecondition, gexc.NotFound):
                continue
            done += 1
        return done

    def list(
        self,
        org: str,
        q: str | None = None,
        service: str | None = None,
        environment: str | None = None,
        tag: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every match, newest first; `q` needs every word in the title or content
        (case-insensitive), looked up in the runbooks' index, then checked on each."""
        query = self.collection(org)
        if service is not None:
            query = query.where(filter=FieldFilter("service", "==", service))
        if environment is not None:
            query = query.where(filter=FieldFilter("environment", "==", environment))
        gram = runbooks.search_gram(q)
        if gram is not None:
            self.index_missing(org)
            query = query.where(filter=FieldFilter(INDEX_FIELD, "array_contains", gram))
        elif tag is not None:
            query = query.where(filter=FieldFilter("tags", "array_contains", tag))
        found = [
            record
            for record in (_shown(s.to_dict()) for s in every(query.order_by("__name__"), PAGE))
            if runbooks.matches_text(record, q)
            and (tag is None or tag in (record.get("tags") or []))
        ]
        return sorted(found, key=lambda r: r["updated_at"], reverse=True)

    def for_deployment(self, org: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The runbooks of a deployment's service and/or environment."""
        name, environment = record.get("name"), record.get("environment")
        candidates: dict[str, dict[str, Any]] = {}
        queries = [self.collection(org).where(filter=FieldFilter("service", "==", name))]
        if environment is not None:
            queries.append(
                self.collection(org)
                .where(filter=FieldFilter("service", "==", None))
                .where(filter=FieldFilter("environment", "==", environment))
            )
        for query in queries:
            for snapshot in query.limit(100).stream():
                candidates[snapshot.id] = _shown(snapshot.to_dict())
        matching = [
            r for r in candidates.values() if runbooks.matches_deployment(r, name, environment)
        ]
        matching.sort(key=lambda r: r["updated_at"], reverse=True)
        return [runbooks.reference(r) for r in matching]
