"""Runbooks in Firestore: `organisations/{org}/runbooks/{id}`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.errors import NotFound
from shared.models import runbook as runbooks
from shared.models.ids import UUID

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.models.governance import RunbookBody

MAX_SCAN = 2000
DESC = firestore.Query.DESCENDING


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
        self.collection(org).document(record["id"]).create(record)
        return record

    def get(self, org: str, runbook_id: str) -> dict[str, Any]:
        snapshot = self._ref(org, runbook_id).get()
        if not snapshot.exists:
            raise NotFound(f"runbook {runbook_id} not found")
        return snapshot.to_dict()

    def replace(self, org: str, runbook_id: str, body: RunbookBody) -> dict[str, Any]:
        ref = self._ref(org, runbook_id)

        @firestore.transactional
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
            transaction.set(ref, record)
            return record

        return body_(self.db.transaction())

    def delete(self, org: str, runbook_id: str) -> None:
        self.get(org, runbook_id)
        self._ref(org, runbook_id).delete()

    def list(
        self,
        org: str,
        q: str | None = None,
        service: str | None = None,
        environment: str | None = None,
        tag: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `q` needs every word in the title or content (case-insensitive)."""
        query = self.collection(org)
        if service is not None:
            query = query.where(filter=FieldFilter("service", "==", service))
        if environment is not None:
            query = query.where(filter=FieldFilter("environment", "==", environment))
        if tag is not None:
            query = query.where(filter=FieldFilter("tags", "array_contains", tag))
        found = [s.to_dict() for s in query.limit(MAX_SCAN).stream()]
        found = [r for r in found if runbooks.matches_text(r, q)]
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
                candidates[snapshot.id] = snapshot.to_dict()
        matching = [
            r for r in candidates.values() if runbooks.matches_deployment(r, name, environment)
        ]
        matching.sort(key=lambda r: r["updated_at"], reverse=True)
        return [runbooks.reference(r) for r in matching]
