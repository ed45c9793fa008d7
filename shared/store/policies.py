"""Environment policies in Firestore: `organisations/{org}/policies/{environment key}`."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.events import Outbox, build_event
from shared.governance.policy import with_defaults
from shared.store.firestore import run_transaction

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.models.governance import PolicyBody

SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def environment_key(environment: str) -> str:
    """A document id for any environment name (Firestore ids cannot hold `/` or be `.`/`..`)."""
    if SAFE_ID.match(environment) and environment not in (".", "..") and "__" not in environment:
        return environment
    return "h-" + hashlib.sha256(environment.encode()).hexdigest()[:40]


class PolicyStore:
    """Read and replace the policy of an environment; every replacement emits an event."""

    def __init__(self, db, outbox: Outbox | None = None):
        self.db = db
        self.outbox = outbox

    def _ref(self, org: str, environment: str):
        return (
            self.db.collection("organisations")
            .document(org)
            .collection("policies")
            .document(environment_key(environment))
        )

    def get(self, org: str, environment: str | None, transaction=None) -> dict[str, Any]:
        """The complete policy (defaults when none is stored; none for a null environment)."""
        if environment is None:
            return {**with_defaults(None), "environment": None}
        snapshot = self._ref(org, environment).get(transaction=transaction)
        stored = snapshot.to_dict() if snapshot.exists else {}
        return {
            **with_defaults(stored),
            "environment": environment,
            "updated_at": stored.get("updated_at"),
            "updated_by": stored.get("updated_by"),
        }

    def put(
        self, org: str, environment: str, body: PolicyBody, principal: Principal, meta: dict
    ) -> dict[str, Any]:
        """Replace the policy; its event commits with it."""
        ref = self._ref(org, environment)
        record = {
            **body.model_dump(mode="json", exclude_none=False),
            "environment": environment,
            "updated_at": clock.now_text(),
            "updated_by": principal.actor or principal.subject,
        }
        record["freeze_windows"] = [
            {k: v for k, v in w.items() if v is not None} for w in record["freeze_windows"]
        ]
        events: list[dict[str, Any]] = []

        def body_(transaction):
            snapshot = ref.get(transaction=transaction)
            before = snapshot.to_dict() if snapshot.exists else None
            events.clear()
            if before is not None and _content(before) == _content(record):
                return before  # the same policy again: nothing changes, nothing is published
            transaction.set(ref, record)
            if self.outbox is not None:
                events.append(
                    build_event(
                        org,
                        "deployq.policy.updated",
                        f"policies/{environment}",
                        before,
                        record,
                        principal=principal,
                        meta=meta,
                        time=record["updated_at"],
                    )
                )
                self.outbox.record(transaction, org, events)
            return record

        result = run_transaction(self.db, body_)
        if self.outbox is not None:
            self.outbox.publish_soon(org, events)
        return result


def _content(policy: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in policy.items() if k not in ("updated_at", "updated_by")}


class NotificationStore:
    """An organisation's notification settings: `organisations/{org}/settings/notifications`."""

    def __init__(self, db):
        self.db = db

    def _ref(self, org: str):
        return (
            self.db.collection("organisations")
            .document(org)
            .collection("settings")
            .document("notifications")
        )

    def get(self, org: str) -> dict[str, Any]:
        snapshot = self._ref(org).get()
        return snapshot.to_dict() if snapshot.exists else {"slack_webhook_url": None}

    def put(self, org: str, settings: dict[str, Any]) -> dict[str, Any]:
        self._ref(org).set(settings)
        return settings
