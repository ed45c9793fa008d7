"""One release through deployq: queue, approval, claim, canary, give up and roll back.

The GitHub Action (`cli.action`) and `deployq release` run these same steps; what
they show along the way goes to a `Watcher`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cli.client import Client
from cli.errors import EXIT_FAILURE, ApiFailure, CliError

CANARY_FINAL = ("promoted", "rolled_back", "aborted", "failed")
APPROVED = ("not_required", "approved")
TAXONOMY = ("name", "provider", "cloud_account_id", "region", "cell")


class ReleaseFailed(CliError):
    """The release stopped: rejected, superseded, rolled back, timed out. `reason` is one line."""

    exit_code = EXIT_FAILURE

    def __init__(self, reason: str, status: str | None = None, record: dict | None = None):
        super().__init__(one_line(reason))
        self.reason = one_line(reason)
        self.status = status
        self.record = record


class Watcher:
    """What a release shows while it waits; the defaults show nothing."""

    def waiting_for_approval(self, deployment: dict[str, Any], elapsed: float) -> None:
        """A poll of a pending deployment."""

    def check(self, canary: dict[str, Any], check: dict[str, Any]) -> None:
        """A new check of the canary."""

    def canary_status(self, canary: dict[str, Any]) -> None:
        """The canary's status changed (or it was first read)."""

    def tick(self, canary: dict[str, Any], elapsed: float) -> None:
        """A poll of the canary with nothing new."""


def one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def taxonomy_of(record: dict[str, Any]) -> dict[str, Any]:
    return {field: record.get(field) for field in TAXONOMY}


def rejection_reason(deployment: dict[str, Any]) -> str:
    """Who rejected the deployment and why, from its approvals (else its notes)."""
    for approval in reversed(deployment.get("approvals") or []):
        if approval.get("decision") == "rejected":
            comment = approval.get("comment")
            return f"rejected by {approval.get('actor')}" + (f": {comment}" if comment else "")
    return one_line(deployment.get("notes")) or "rejected"


def canary_timeout_seconds(body: dict[str, Any]) -> float:
    """Planned length of a canary (every step lasts step_minutes) plus 15 minutes' margin."""
    steps = body.get("steps") or [10]
    minutes = float(body.get("step_minutes") or 15)
    planned = minutes * (len(steps) if (body.get("strategy") or "canary") == "canary" else 1)
    return (planned + 15) * 60


class Release:
    """The steps of a release, against the deployments and canary functions."""

    def __init__(
        self,
        deployments: Client,
        canary: Callable[[], Client],
        *,
        watcher: Watcher | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.deployments = deployments
        self._canary = canary
        self.watcher = watcher or Watcher()
        self.sleep = sleep
        self.clock = clock

    # -- the queue ----------------------------------------------------------------

    def create(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self.deployments.call(
            "POST", "/v1/deployments", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    def get(self, deployment_id: str) -> dict[str, Any]:
        return self.deployments.call("GET", f"/v1/deployments/{deployment_id}")

    def update(self, deployment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.deployments.call("PATCH", f"/v1/deployments/{deployment_id}", json=body)

    def wait_for_approval(
        self, deployment_id: str, *, timeout: float, interval: float
    ) -> dict[str, Any]:
        """Poll until the deployment may go live; ReleaseFailed when rejected, superseded or
        still pending after `timeout` seconds."""
        started = self.clock()
        while True:
            deployment = self.get(deployment_id)
            approval = deployment.get("approval_status") or "not_required"
            if approval == "rejected":
                raise ReleaseFailed(rejection_reason(deployment), "rejected", deployment)
            if deployment.get("status") in ("skipped", "failed", "rolled_back"):
                reason = one_line(deployment.get("notes")) or "no reason given"
                raise ReleaseFailed(
                    f"deployment {deployment_id} is {deployment['status']}: {reason}",
                    deployment["status"],
                    deployment,
                )
            if approval in APPROVED:
                return deployment
            elapsed = self.clock() - started
            if elapsed >= timeout:
                raise ReleaseFailed(
                    f"deployment {deployment_id} was not approved within {timeout / 60:g} minutes",
                    "pending",
                    deployment,
                )
            self.watcher.waiting_for_approval(deployment, elapsed)
            self.sleep(min(interval, max(0.0, timeout - elapsed)))

    def claim(self, taxonomy: dict[str, Any], expected_id: str | None = None) -> dict[str, Any]:
        """Take the newest scheduled deployment of the taxonomy. With `expected_id`, refuse
        (ReleaseFailed) when a newer deployment is queued: it, not this one, should go live."""
        if expected_id:
            newer = self._newest_scheduled(taxonomy)
            if newer is not None and newer["id"] != expected_id:
                raise ReleaseFailed(
                    f"deployment {expected_id} is superseded by {newer['id']} "
                    f"(version {newer.get('version')}), queued after it; not claiming",
                    "superseded",
                    newer,
                )
        body = {field: value for field, value in taxonomy.items() if value not in (None, "")}
        return self.deployments.call("POST", "/v1/deployments/claim", json=body)

    def _newest_scheduled(self, taxonomy: dict[str, Any]) -> dict[str, Any] | None:
        params = {
            "status": "scheduled",
            "name": taxonomy.get("name"),
            "provider": taxonomy.get("provider"),
            "limit": 100,
        }
        for record in self.deployments.call("GET", "/v1/deployments", params=params) or []:
            if taxonomy_of(record) == {k: taxonomy.get(k) or None for k in TAXONOMY}:
                return record
        return None

    def give_up(
        self,
        deployment_id: str,
        reason: str,
        *,
        target_version: str | None = None,
        queue_rollback: bool = True,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Mark a release that has not gone live `failed`, then queue the rollback record
        (None when there is no earlier deployed version to go back to)."""
        deployment = self.get(deployment_id)
        if deployment.get("status") in ("scheduled", "in_progress"):
            deployment = self.update(deployment_id, {"status": "failed", "notes": reason})
        if not queue_rollback:
            return deployment, None
        try:
            rollback = self.deployments.call(
                "POST",
                f"/v1/deployments/{deployment_id}/rollback",
                params={"target_version": target_version},
            )
        except ApiFailure as exc:
            if exc.status == 404:
                return deployment, None
            raise
        return deployment, rollback

    # -- the canary ---------------------------------------------------------------

    def start_canary(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._canary().call("POST", "/v1/canaries", json=body)

    def stop_canary(self, canary_id: str) -> dict[str, Any]:
        """Abort a canary that is still progressing or held (traffic back to stable)."""
        client = self._canary()
        canary = client.call("GET", f"/v1/canaries/{canary_id}")
        if canary.get("status") in CANARY_FINAL:
            return canary
        return client.call("POST", f"/v1/canaries/{canary_id}/abort")

    def follow_canary(
        self, canary_id: str, *, interval: float, timeout: float, seen: int = 0
    ) -> dict[str, Any]:
        """Follow a canary until it is promoted, rolled back, aborted or failed; a held one is
        waited on (a person promotes or aborts it). ReleaseFailed after `timeout` seconds."""
        started, status = self.clock(), None
        client = self._canary()
        while True:
            canary = client.call("GET", f"/v1/canaries/{canary_id}")
            checks = canary.get("checks") or []
            for check in checks[seen:]:
                self.watcher.check(canary, check)
            fresh = len(checks) > seen
            seen = len(checks)
            if canary.get("status") != status:
                status = canary.get("status")
                self.watcher.canary_status(canary)
            elif not fresh:
                self.watcher.tick(canary, self.clock() - started)
            if status in CANARY_FINAL:
                return canary
            elapsed = self.clock() - started
            if elapsed >= timeout:
                raise ReleaseFailed(
                    f"canary {canary_id} is still {status} after {timeout / 60:g} minutes: "
                    f"{canary.get('reason') or 'no decision yet'}",
                    status,
                    canary,
                )
            self.sleep(min(interval, max(0.0, timeout - elapsed)))
