"""Rollbacks: a new scheduled deployment re-deploying an earlier deployed record.

The rules of which record a rollback copies live in `shared.deployments.rules`; the new
record goes through the queue like any other (approval state, event, day queue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.deployments import rules
from shared.deployments.queue import DeploymentQueue
from shared.errors import Conflict, NotFound
from shared.models.deployment import Status, taxonomy_key

if TYPE_CHECKING:
    from shared.auth import Principal


class Rollbacks:
    """Rollback by taxonomy or from one deployment."""

    def __init__(self, queue: DeploymentQueue):
        self.queue = queue

    def rollback_taxonomy(
        self,
        org: str,
        taxonomy: dict[str, Any],
        target_version: str | None,
        principal: Principal,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """A new scheduled deployment re-deploying the previous (or `target_version`) record."""
        key = taxonomy_key(taxonomy)
        current = self.queue.store.newest_deployed(org, key, None)
        if current is None:
            raise NotFound("nothing of this taxonomy is deployed, so there is nothing to roll back")
        history = self.queue.store.deployed_history(org, key, target_version)
        source = rules.rollback_source(history, current, target_version)
        return self._create_rollback(org, source, current, principal, meta)

    def rollback_deployment(
        self,
        org: str,
        deployment_id: str,
        target_version: str | None,
        principal: Principal,
        meta: dict | None = None,
    ) -> dict[str, Any]:
        """Roll back from one deployment: the current deployed one, or a release never gone live."""
        record = self.queue.store.get(org, deployment_id)
        key = record["taxonomy_key"]
        status = Status(record["status"])
        if status == Status.rolled_back:
            raise Conflict(
                f"deployment {deployment_id} is already rolled back", code="invalid_state"
            )
        if status == Status.deployed:
            current = self.queue.store.newest_deployed(org, key, None)
            if current is None or current["id"] != deployment_id:
                raise Conflict(
                    f"deployment {deployment_id} is not the current deployment of its taxonomy"
                    + (f" (the current one is {current['id']})" if current else ""),
                    code="not_current",
                )
            history = self.queue.store.deployed_history(org, key, target_version)
            source = rules.rollback_source(history, record, target_version)
        else:
            source = self.queue.store.newest_deployed(org, key, target_version)
            if source is None:
                what = f"version {target_version}" if target_version else "any version"
                raise NotFound(f"no deployed record of {what} in this taxonomy to roll back to")
        return self._create_rollback(org, source, record, principal, meta)

    def _create_rollback(
        self, org: str, source: dict, replaced: dict, principal: Principal, meta: dict | None
    ) -> dict[str, Any]:
        record = rules.new_record(org, rules.rollback_fields(source, replaced), principal)
        created, _ = self.queue.insert(org, record, principal, meta=meta)
        return created
