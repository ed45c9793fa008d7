"""Rolling back a package deployment: restore what it changed, after approval where its
environment requires it; never blocked by a freeze window."""

from __future__ import annotations

import time
from typing import Any

from shared import clock
from shared.errors import Conflict
from shared.governance.approvals import PENDING, actor_of
from shared.models.package import (
    Deployed,
    DeploymentStatus,
    action_record,
    deployment_move,
    public_deployment,
)
from shared.models.principal import Principal
from shared.packages.deploy import environment_db
from shared.packages.writer import undo
from shared.store.packages import new_id

S = DeploymentStatus


class DeploymentRollbacks:
    """The rollback side of PackageDeployments (its store, approvals, settings and events)."""

    def rollback(
        self,
        org: str,
        deployment_id: str,
        actor: str | None,
        principal: Principal | None = None,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """Restore what a deployment changed, never blocked by a freeze window. While its
        environment requires approval the rollback waits for it: a rollback request
        (`rollback_of`, `awaiting_approval`) whose last approval restores the deployment."""
        record = self._rollbackable(org, deployment_id)
        if self.approvals.requires_approval(org, record["environment"]):
            request = dict(record)
            request.update(
                id=new_id(),
                status=S.awaiting_approval.value,
                approval_status=PENDING,
                approvals=[],
                is_active=False,
                rollback_of=deployment_id,
                deployed_by=actor,
                deployed_at=None,
                created_by_actor=actor_of(principal) if principal else actor,
                created_at=clock.now_text(),
                started_at=None,
                completed_at=None,
                job_id=None,
                errors=[],
                pk_mapping_result={},
            )
            event = self.approvals.requested_event(
                org, "package_deployment", request, public_deployment(request), principal, meta
            )
            batch = self.store.db.batch()
            self.store.stage_deployment(batch, org, request)
            self.events.record(batch, org, [event])
            batch.commit()
            self.events.publish_soon(org, [event])
            return Deployed(deployment=request, waiting=True)
        return Deployed(deployment=self._roll_back(org, record, actor, principal, meta))

    def _rollbackable(self, org: str, deployment_id: str) -> dict[str, Any]:
        record = self.store.get_deployment(org, deployment_id)
        if record.get("dry_run"):
            raise Conflict("a dry run wrote nothing and cannot be rolled back", code="dry_run")
        if record["status"] != S.completed.value or not record.get("is_active"):
            raise Conflict(
                f"deployment {deployment_id} is {record['status']}; only an active "
                "completed deployment can be rolled back",
                code="not_active",
            )
        return record

    def _roll_back(self, org, record, actor, principal, meta, on_behalf_of=None) -> dict:
        deployment_id = record["id"]
        started, started_at = time.monotonic(), clock.now_text()
        undoing = deployment_move(deployment_id, record["status"], S.undoing)
        self.store.update_deployment(
            org, deployment_id, {"status": undoing, "progress_at": clock.now_text()}
        )
        restored = undo(
            self.store,
            org,
            deployment_id,
            environment_db(self.settings, org, record["environment"]),
        )
        now = clock.now_text()
        changes = {
            "status": deployment_move(deployment_id, undoing, S.rolled_back),
            "is_active": False,
            "rolled_back_at": now,
            "rolled_back_by": actor,
            "progress_at": now,
        }
        before = dict(record)
        self.store.update_deployment(org, deployment_id, changes)
        record.update(changes)
        self.emit(org, "rolled_back", before, record, principal, meta, on_behalf_of)
        self.store.add_action(
            org,
            record["package_id"],
            action_record(
                "rollback",
                started=started,
                started_at=started_at,
                actor=actor,
                source=None,
                target=record["environment"],
                processed=restored,
                tables=record.get("tables_processed", 0),
                deployment_id=deployment_id,
            ),
        )
        return record
