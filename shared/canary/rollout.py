"""Starting a rollout: validate against Cloud Run, reserve the service, verify, first step."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared import clock, logs
from shared.canary import plan
from shared.canary.effects import Effects, point
from shared.canary.parts import Parts, ids
from shared.canary.traffic import conflict_reason, pick_tag, split
from shared.errors import ApiError, BadRequest, Conflict, NotFound
from shared.google.cloud_run import CloudRunError, EtagConflict, ServiceState
from shared.models.canary import CanaryStatus, Strategy, default_strategy
from shared.models.deployment import Status
from shared.store.canaries import service_key

if TYPE_CHECKING:
    from shared.models.principal import Principal
    from shared.schemas.canary import CanaryCreate

log = logs.get("canary")


def new_canary(org, body: CanaryCreate, strategy, stable, environment, state, principal) -> dict:
    """The record of a canary about to start."""
    now = clock.now_text()
    record = body.model_dump(mode="json")
    record.update(
        id=str(uuid.uuid4()),
        organisation=org,
        status=CanaryStatus.progressing.value,
        strategy=strategy.value,
        stable_revision=stable,
        environment=environment,
        service_key=service_key(body.project, body.region, body.service),
        reason=None,
        traffic_percent=state.percent_of(body.canary_revision),
        step_index=-1,
        step_started_at=None,
        started_at=None,
        ended_at=None,
        check_count=0,
        consecutive_errors=0,
        next_check_at=None,
        last_window_end=None,
        tag=None,
        etag=state.etag,
        lease_token=None,
        lease_until=None,
        pending_action=None,
        deployment_error=None,
        created_by_actor=principal.actor,
        created_at=now,
        updated_at=now,
    )
    return record


class Rollout:
    """Starts canaries."""

    def __init__(self, parts: Parts, effects: Effects):
        self.parts = parts
        self.effects = effects

    def start(self, org: str, body: CanaryCreate, principal: Principal) -> dict[str, Any]:
        """Validate against Cloud Run, store, verify, move the first traffic step, schedule."""
        environment, deployment = body.environment, None
        if body.deployment_id:
            deployment = self.parts.linked().get(org, body.deployment_id)
            environment = environment or deployment.get("environment")
            if deployment["status"] not in (Status.scheduled.value, Status.in_progress.value):
                raise Conflict(
                    f"deployment {body.deployment_id} is already {deployment['status']}; "
                    "link a scheduled or in-progress deployment",
                    code="invalid_state",
                )
        self.parts.gate(org, environment, deployment, principal, body.override_reason)
        strategy = body.strategy or default_strategy(environment)
        if self.parts.require_service is not None:
            path = f"projects/{body.project}/locations/{body.region}/services/{body.service}"
            self.parts.require_service(org, path)
        state, stable = self._service(body)
        record = new_canary(org, body, strategy, stable, environment, state, principal)
        store = self.parts.store
        store.reserve(org, record, principal)
        try:
            if deployment is not None and deployment["status"] == Status.scheduled.value:
                # The rollout is the deployment going live: approvals and freezes apply now.
                self.parts.linked().set_status(
                    org, deployment["id"], Status.in_progress, principal, None, body.override_reason
                )
            return self._begin(org, record, state, principal)
        except CloudRunError as exc:  # a failed start must not strand the service lock
            reason = f"Cloud Run update failed at start: {exc.message}"
            store.update(org, record["id"], {"status": "failed", "reason": reason[:500]})
            raise exc.about("Cloud Run update failed at start") from None
        except ApiError as exc:
            reason = f"not started: {exc.message}"
            store.update(org, record["id"], {"status": "failed", "reason": reason[:500]})
            raise
        except Exception as exc:  # a failed start must not strand the service lock
            reason = f"not started: {type(exc).__name__}"
            store.update(org, record["id"], {"status": "failed", "reason": reason})
            raise

    def _service(self, body: CanaryCreate) -> tuple[ServiceState, str]:
        """The service's state and the stable revision; 404 for unknown names."""
        run = self.parts.run
        state = run.get_service(body.project, body.region, body.service)
        if not run.revision_exists(body.project, body.region, body.service, body.canary_revision):
            raise NotFound(f"revision {body.canary_revision} not found in service {body.service}")
        stable = body.stable_revision or state.largest()
        if body.stable_revision and not run.revision_exists(
            body.project, body.region, body.service, body.stable_revision
        ):
            raise NotFound(
                f"stable revision {body.stable_revision} not found in service {body.service}"
            )
        if not stable or stable == body.canary_revision:
            raise BadRequest(
                f"revision {body.canary_revision} already serves the largest share of traffic; "
                "name a different stable_revision",
                details=[{"field": "stable_revision", "error": "same as canary_revision"}],
            )
        return state, stable

    def _begin(self, org: str, record: dict[str, Any], state: ServiceState, principal) -> dict:
        canary, stable = record["canary_revision"], record["stable_revision"]
        store, run = self.parts.store, self.parts.run
        tag = pick_tag(state.traffic, canary)
        try:
            if record.get("verify") or Strategy(record["strategy"]) == Strategy.blue_green:
                state = run.set_traffic(state, split(state.traffic, stable, canary, 0, tag))
                record = store.update(
                    org, record["id"], {"tag": tag, "etag": state.etag}, principal
                )
            if record.get("verify"):
                problem = self.parts.probe.verify(state, tag, record["verify"])
                if problem:
                    return self._failed(org, record, problem, principal)
            decision = plan.begin(record)
            state = run.set_traffic(
                state, split(state.traffic, stable, canary, decision.traffic_percent, tag)
            )
        except EtagConflict as exc:
            reason = conflict_reason(exc.message)
            return store.update(org, record["id"], {"status": "held", "reason": reason}, principal)
        now = self.parts.now()
        record = store.update(
            org,
            record["id"],
            {
                "tag": tag,
                "etag": state.etag,
                "traffic_percent": decision.traffic_percent,
                "step_index": decision.step_index,
                "started_at": clock.to_text(now),
                "step_started_at": clock.to_text(now),
                "next_check_at": clock.to_text(now + timedelta(seconds=record["interval_seconds"])),
            },
            principal,
        )
        self.parts.monitoring.write(
            [
                point("canary_rollouts_started", 1, record, now),
                point("canary_traffic_percent", decision.traffic_percent, record, now),
            ]
        )
        self.effects.schedule(org, record)
        log.info(
            "canary %s started: %s", record["id"], decision.reason, extra={"fields": ids(record)}
        )
        return record

    def _failed(self, org, record, problem: str, principal) -> dict[str, Any]:
        """Verification failed: the canary ends `failed`, the traffic never moved."""
        record = self.parts.store.update(
            org,
            record["id"],
            {"status": "failed", "reason": problem, "ended_at": clock.now_text()},
            principal,
        )
        self.effects.linked.sync(org, record, Status.failed, problem)
        return record
