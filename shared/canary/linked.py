"""The linked deployment follows its canary: deployed when promoted, failed when it ends badly."""

from __future__ import annotations

from typing import Any

from shared import logs
from shared.canary.parts import Parts, ids, system
from shared.errors import ApiError, ConcurrentUpdate
from shared.models.deployment import Status

log = logs.get("canary")
RETRY_LIMIT = 500


class LinkedDeployments:
    """Marks a canary's linked deployment; a failure is recorded on the canary, never raised."""

    def __init__(self, parts: Parts):
        self.parts = parts

    def sync(self, org: str, record: dict[str, Any], status: Status, reason: str) -> None:
        """Set the linked deployment's status with a note of why.

        A refusal (approval, transition) stands; a failure of the moment (Firestore
        unavailable, contention) leaves `deployment_sync_pending` for the sweep to retry.
        """
        if not record.get("deployment_id"):
            return
        store = self.parts.store
        note = f"canary {record['id']} {record['status']}: {reason}"
        try:
            queue = self.parts.linked()
            existing = queue.get(org, record["deployment_id"]).get("notes")
            notes = existing or ""
            if note not in notes:  # a retry after a lost answer adds nothing twice
                notes = f"{existing}\n{note}" if existing else note  # the team's notes stay
            queue.set_status(
                org,
                record["deployment_id"],
                status,
                system(org, self.parts.system_actor),
                notes[-10_000:],
            )
        except Exception as exc:  # noqa: BLE001 - the rollout outcome stands either way
            message = getattr(exc, "message", None) or str(exc)
            log.warning("linked deployment not updated: %s", message, extra={"fields": ids(record)})
            refused = isinstance(exc, ApiError) and exc.status < 500
            refused = refused and not isinstance(exc, ConcurrentUpdate)
            store.update(
                org,
                record["id"],
                {
                    "deployment_error": message[:500],
                    "deployment_sync_pending": not refused,
                    "deployment_sync_status": status.value,
                    "deployment_sync_reason": reason[:500],
                },
            )
            return
        if record.get("deployment_sync_pending") or record.get("deployment_error"):
            store.update(
                org, record["id"], {"deployment_sync_pending": False, "deployment_error": None}
            )

    def retry(self, limit: int = RETRY_LIMIT) -> int:
        """Retry linked-deployment updates that failed for a passing reason; how many tried."""
        tried = 0
        for record in self.parts.store.sync_pending(limit):
            tried += 1
            self.sync(
                record["organisation"],
                record,
                Status(record["deployment_sync_status"]),
                record.get("deployment_sync_reason") or "",
            )
        return tried
