"""A person decides: promote (100% to the canary) or abort (100% back to stable) now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock, logs
from shared.canary.effects import Effects
from shared.canary.parts import LEASE_SECONDS, Parts, ids
from shared.canary.traffic import conflict_reason, same_traffic, split
from shared.errors import Conflict
from shared.google.cloud_run import CloudRunError, EtagConflict, NotFoundError
from shared.models.canary import ACTIVE, CanaryStatus, transition_error

if TYPE_CHECKING:
    from shared.models.principal import Principal

MANUAL_WAIT_SECONDS = 20
log = logs.get("canary")


class Manual:
    """Promote and abort, waiting briefly for a running check to finish."""

    def __init__(self, parts: Parts, effects: Effects):
        self.parts = parts
        self.effects = effects

    def decide(
        self,
        org,
        canary_id,
        principal: Principal,
        target: CanaryStatus,
        override_reason: str | None = None,
    ) -> dict[str, Any]:
        """End the canary as `target` (promoted or aborted); repeating it answers the canary.

        A promotion meets the freeze windows of the canary's environment and needs its
        linked deployment approved; an abort never waits for anything."""
        store = self.parts.store
        record = store.get(org, canary_id)
        if record["status"] == target.value:
            return record
        if target == CanaryStatus.promoted:
            deployment = None
            if record.get("deployment_id") and self.parts.deployments is not None:
                deployment = self.parts.linked().get(org, record["deployment_id"])
            self.parts.gate(org, record.get("environment"), deployment, principal, override_reason)
        taken = store.lease_waiting(
            org,
            canary_id,
            LEASE_SECONDS,
            MANUAL_WAIT_SECONDS,
            accept=lambda r: CanaryStatus(r["status"]) in ACTIVE,
        )
        if taken is None:
            record = store.get(org, canary_id)
            if record["status"] == target.value:
                return record
            raise Conflict(
                transition_error(CanaryStatus(record["status"]), target) or "not allowed",
                code="invalid_transition",
            )
        record, lease = taken
        now = self.parts.now()
        changes = self._changes_or_release(org, canary_id, lease, record, target)
        verb = "promoted" if target == CanaryStatus.promoted else "aborted"
        changes.update(
            status=target.value,
            reason=f"{verb} by {principal.actor or principal.subject}",
            ended_at=clock.to_text(now),
            next_check_at=None,
            pending_action=None,
        )
        after = store.commit(org, canary_id, lease, changes, principal=principal)
        self.effects.after(org, record, after, now, None)
        log.info("canary %s %s", canary_id, changes["reason"], extra={"fields": ids(after)})
        return after

    def _changes_or_release(self, org, canary_id, lease, record, target: CanaryStatus) -> dict:
        """The traffic change of ending the canary as `target`; the lease released (and the
        refusal raised) when Cloud Run does not take it."""
        store = self.parts.store
        try:
            return self._traffic(record, target)
        except NotFoundError as exc:
            if target == CanaryStatus.promoted:
                store.release(org, canary_id, lease)
                raise Conflict(f"cannot promote: {exc.message}", code="service_not_found") from None
            return {"traffic_percent": 0}  # nothing left to send traffic to: just end it
        except EtagConflict as exc:
            store.release(org, canary_id, lease)
            raise Conflict(
                f"{conflict_reason(exc.message)}; retry", code="concurrent_update"
            ) from None
        except CloudRunError as exc:
            store.release(org, canary_id, lease)
            raise exc.about(f"Cloud Run refused the {target.value} change") from None
        except BaseException:
            store.release(org, canary_id, lease)
            raise

    def _traffic(self, record: dict[str, Any], target: CanaryStatus) -> dict[str, Any]:
        """Act on the service as it is now (fresh etag): the record's changes."""
        percent = 100 if target == CanaryStatus.promoted else 0
        changes: dict[str, Any] = {"traffic_percent": percent}
        if record["step_index"] >= 0 or record.get("tag") or target == CanaryStatus.promoted:
            run = self.parts.run
            state = run.get_service(record["project"], record["region"], record["service"])
            traffic = split(
                state.traffic,
                record["stable_revision"],
                record["canary_revision"],
                percent,
                record.get("tag"),
            )
            if not same_traffic(state.traffic, traffic):
                state = run.set_traffic(state, traffic)
            changes["etag"] = state.etag
        return changes
