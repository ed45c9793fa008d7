"""Per-day DORA aggregates in Firestore, maintained from events, read by the metrics routes.

    organisations/{org}/dora_days/{day}~{scope}~{labels hash}   one day of one scope:
        scope all | environment | name | environment_name, with `day`, `environment`, `name`,
        `outcomes` {deployment id: {status, at, lead}} and `restores` {failure id: {at, seconds}}
    organisations/{org}/dora_taxonomies/{taxonomy_key}         open failures and recent deploys

Outcomes are keyed by deployment id and never move to a lower rank (rolled_back beats
deployed), so a duplicate or late event changes nothing. A 30-day query reads at most
31 documents of one scope.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

SCOPES = ("all", "environment", "name", "environment_name")


def labels_for(scope: str, environment: str | None, name: str | None) -> dict[str, Any]:
    return {
        "environment": environment if scope in ("environment", "environment_name") else None,
        "name": name if scope in ("name", "environment_name") else None,
    }


class DoraStore:
    def __init__(self, db):
        self.db = db

    def _org(self, org: str):
        return self.db.collection("organisations").document(org)

    def _day_ref(self, org: str, day: str, scope: str, labels: dict[str, Any]):
        digest = hashlib.sha256(json.dumps([labels["environment"], labels["name"]]).encode())
        doc_id = f"{day}~{scope}~{digest.hexdigest()[:16]}"
        return self._org(org).collection("dora_days").document(doc_id)

    def _day_refs(self, org: str, day: str, environment: str | None, name: str | None):
        for scope in SCOPES:
            labels = labels_for(scope, environment, name)
            yield self._day_ref(org, day, scope, labels), scope, labels

    # -- writes (events function) -------------------------------------------------

    def known_outcome(
        self, transaction, org: str, day: str, environment, name, deployment_id: str
    ) -> dict[str, Any] | None:
        """The outcome already counted for a deployment on `day`, or None."""
        labels = labels_for("environment_name", environment, name)
        own = self._day_ref(org, day, "environment_name", labels).get(transaction=transaction)
        return (own.to_dict() or {}).get("outcomes", {}).get(deployment_id) if own.exists else None

    def _taxonomy_ref(self, org: str, key: str):
        return self._org(org).collection("dora_taxonomies").document(key)

    def restore_state(self, transaction, org: str, key: str) -> dict[str, Any]:
        """A taxonomy's open failures and recent deploys."""
        snapshot = self._taxonomy_ref(org, key).get(transaction=transaction)
        return snapshot.to_dict() if snapshot.exists else {}

    def write_restore_state(self, transaction, org: str, key: str, state: dict) -> None:
        transaction.set(self._taxonomy_ref(org, key), state)

    def add(self, transaction, org: str, additions: list[tuple]) -> None:
        """Add `(day, environment, name, kind, key, value)` entries (`kind` outcomes or
        restores) to the day documents of every scope, one merged write per document."""
        writes: dict[str, tuple[Any, dict[str, Any]]] = {}
        for day, environment, name, kind, key, value in additions:
            for ref, scope, labels in self._day_refs(org, day, environment, name):
                _, data = writes.setdefault(ref.path, (ref, {"day": day, "scope": scope, **labels}))
                data.setdefault(kind, {})[key] = value
        for ref, data in writes.values():
            transaction.set(ref, data, merge=True)

    # -- reads (deployments function) ---------------------------------------------

    def days(
        self,
        org: str,
        scope: str,
        since: datetime,
        environment: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        """The day documents of one scope from `since` (a few dozen for a 30-day query)."""
        query = (
            self._org(org).collection("dora_days").where(filter=FieldFilter("scope", "==", scope))
        )
        if scope in ("environment", "environment_name") and environment is not None:
            query = query.where(filter=FieldFilter("environment", "==", environment))
        if scope in ("name", "environment_name") and name is not None:
            query = query.where(filter=FieldFilter("name", "==", name))
        start = (since - timedelta(days=1)).date().isoformat()
        query = query.where(filter=FieldFilter("day", ">=", start))
        return [snapshot.to_dict() for snapshot in query.stream()]
