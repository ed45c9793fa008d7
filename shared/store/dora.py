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

from shared import clock
from shared.models import dora
from shared.store.firestore import run_transaction

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

    def apply(self, org: str, record: dict[str, Any]) -> bool:
        """Fold a deployment record (an event's `after`) into the aggregates; True if counted."""
        outcome = dora.outcome_of(record)
        if outcome is None:
            return False
        environment, name = record.get("environment"), record.get("name")
        day = outcome.at.date().isoformat()
        own_ref = self._day_ref(
            org, day, "environment_name", labels_for("environment_name", environment, name)
        )
        taxonomy_ref = None
        if record.get("taxonomy_key") or record.get("name"):
            from shared.models.deployment import taxonomy_key

            key = record.get("taxonomy_key") or taxonomy_key(record)
            taxonomy_ref = self._org(org).collection("dora_taxonomies").document(key)
        entry = {
            "status": outcome.status,
            "at": clock.to_text(outcome.at),
            "lead": outcome.lead_seconds,
        }

        def body(transaction):
            own = own_ref.get(transaction=transaction)
            known = (
                (own.to_dict() or {}).get("outcomes", {}).get(outcome.id) if own.exists else None
            )
            state = {}
            if taxonomy_ref is not None:
                snapshot = taxonomy_ref.get(transaction=transaction)
                state = snapshot.to_dict() if snapshot.exists else {}
            if known and dora.RANK[known["status"]] > dora.RANK[outcome.status]:
                return False  # a late event about an earlier state
            # One merged write per document (a commit writes each document once).
            writes: dict[str, tuple[Any, dict[str, Any]]] = {}
            for ref, scope, labels in self._day_refs(org, day, environment, name):
                self._merge(writes, ref, scope, labels, day, "outcomes", outcome.id, entry)
            if taxonomy_ref is not None:
                new_state, samples = dora.track_restores(
                    state, outcome, {"environment": environment, "name": name}
                )
                transaction.set(taxonomy_ref, new_state)
                for labels, restore in samples:
                    failure_day = restore.failed_at.date().isoformat()
                    value = {"at": clock.to_text(restore.failed_at), "seconds": restore.seconds}
                    refs = self._day_refs(org, failure_day, labels["environment"], labels["name"])
                    for ref, scope, scoped in refs:
                        self._merge(
                            writes,
                            ref,
                            scope,
                            scoped,
                            failure_day,
                            "restores",
                            restore.failure_id,
                            value,
                        )
            for ref, data in writes.values():
                transaction.set(ref, data, merge=True)
            return True

        return run_transaction(self.db, body)

    @staticmethod
    def _merge(writes, ref, scope, labels, day, kind, key, value) -> None:
        _, data = writes.setdefault(ref.path, (ref, {"day": day, "scope": scope, **labels}))
        data.setdefault(kind, {})[key] = value

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
