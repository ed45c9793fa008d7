"""Environment policies in Firestore: `organisations/{org}/policies/{environment key}`."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from shared.models.policy import with_defaults

SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def environment_key(environment: str) -> str:
    """A document id for any environment name (Firestore ids cannot hold `/` or be `.`/`..`)."""
    if SAFE_ID.match(environment) and environment not in (".", "..") and "__" not in environment:
        return environment
    return "h-" + hashlib.sha256(environment.encode()).hexdigest()[:40]


class PolicyStore:
    """Read and write the policy of an environment (rules and events: `governance.policies`)."""

    def __init__(self, db):
        self.db = db

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

    def stored(self, org: str, environment: str, transaction=None) -> dict[str, Any] | None:
        """The policy document as stored, or None."""
        snapshot = self._ref(org, environment).get(transaction=transaction)
        return snapshot.to_dict() if snapshot.exists else None

    def write(self, writer, org: str, environment: str, record: dict[str, Any]) -> None:
        writer.set(self._ref(org, environment), record)


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
