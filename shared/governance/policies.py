"""Environment policies: replacing one commits the policy and its event together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock
from shared.events import EventSink, build_event
from shared.store.firestore import run_transaction
from shared.store.policies import PolicyStore

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.governance import PolicyBody

POLICY_UPDATED = "deployq.policy.updated"


def _content(policy: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in policy.items() if k not in ("updated_at", "updated_by")}


class Policies:
    """Read and replace environment policies; every real replacement emits an event."""

    def __init__(self, store: PolicyStore, events: EventSink):
        self.store = store
        self.events = events

    def get(self, org: str, environment: str | None, transaction=None) -> dict[str, Any]:
        """The complete policy (defaults when none is stored)."""
        return self.store.get(org, environment, transaction)

    def put(
        self, org: str, environment: str, body: PolicyBody, principal: Principal, meta: dict
    ) -> dict[str, Any]:
        """Replace the policy; the same policy again changes nothing and publishes nothing."""
        record = {
            **body.model_dump(mode="json", exclude_none=False),
            "environment": environment,
            "updated_at": clock.now_text(),
            "updated_by": principal.actor or principal.subject,
        }
        record["freeze_windows"] = [
            {k: v for k, v in w.items() if v is not None} for w in record["freeze_windows"]
        ]

        def replace(transaction) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            before = self.store.stored(org, environment, transaction)
            if before is not None and _content(before) == _content(record):
                return before, []
            self.store.write(transaction, org, environment, record)
            event = build_event(
                org,
                POLICY_UPDATED,
                f"policies/{environment}",
                before,
                record,
                principal=principal,
                meta=meta,
                time=record["updated_at"],
            )
            self.events.record(transaction, org, [event])
            return record, [event]

        result, events = run_transaction(self.store.db, replace)
        self.events.publish_soon(org, events)
        return result
