"""What every step of a rollout works with: the store, the Google adapters, the linked queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import clock
from shared.canary.probe import Probe
from shared.canary.records import CanaryRecords
from shared.errors import Conflict, NotFound
from shared.google.cloud_run import CloudRun
from shared.google.monitoring import Monitoring
from shared.models.principal import Principal

# How long a check (or a manual action) may hold a canary before another may take it.
LEASE_SECONDS = 300


@dataclass
class Parts:
    """The collaborators of a rollout; `deployments` is the governed queue (or None)."""

    store: CanaryRecords
    run: CloudRun
    monitoring: Monitoring
    deployments: Any = None
    queue: Any = None  # a shared.jobs.queue.JobQueue sending check jobs to the worker
    now: Callable[[], datetime] = clock.utcnow
    probe: Probe = field(default_factory=Probe)
    # (org, "projects/P/locations/L/services/S") -> None, or 403 when not granted
    require_service: Callable[[str, str], None] | None = None
    # who deployq's own moves are made by: its service account's email
    system_actor: str = "deployq-canary"

    def linked(self):
        if self.deployments is None:
            raise NotFound("linked deployments are not available")
        return self.deployments

    def gate(
        self,
        org: str,
        environment: str | None,
        deployment: dict[str, Any] | None,
        principal: Principal,
        override_reason: str | None,
    ) -> None:
        """The approvals service's gate for moving traffic: 409 `approval_required` while
        the linked deployment waits for approval or was rejected, 409 `freeze_window`
        inside a window of the canary's environment (an admin's `override_reason` passes).
        Aborts and automatic rollbacks never ask."""
        if deployment is not None and deployment.get("approval_status") in ("pending", "rejected"):
            raise Conflict(
                f"deployment {deployment['id']} needs approval before a canary may move its "
                f"traffic (approval status: {deployment['approval_status']}); approve it with "
                f"POST /v1/deployments/{deployment['id']}/approve",
                code="approval_required",
            )
        if environment and self.deployments is not None:
            self.deployments.approvals.check_freeze(org, environment, principal, override_reason)


def system(org: str, actor: str = "deployq-canary") -> Principal:
    """deployq itself, acting on a canary's decision in `org` (events, linked deployments)."""
    return Principal("internal", actor, org, "admin", actor=actor)


def ids(record: dict[str, Any]) -> dict[str, Any]:
    """The fields every canary log line carries."""
    return {
        "canary_id": record.get("id"),
        "organisation": record.get("organisation"),
        "service": record.get("service"),
    }
