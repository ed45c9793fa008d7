"""Canary rollouts: the service behind the canary function and the worker's check jobs.

    canaries = canaries_for(settings)      # once per process
    canaries.start(org, body, principal) / promote / abort / check / sweep
    canaries.run_check_job(delivery)       # the worker's `canary_check` job

Each step lives in its own module: `rollout` (start), `checks` (one check),
`manual` (promote, abort), `sweep`, `effects` (what follows a committed change:
linked deployment, metrics, the next check job), `traffic` (the maths of a split),
`probe` (pre-traffic verification), `plan` and `verdict` (pure decisions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.canary.checks import Checks
from shared.canary.effects import Effects
from shared.canary.manual import Manual
from shared.canary.parts import Parts
from shared.canary.rollout import Rollout
from shared.canary.sweep import SWEEP_BUDGET_SECONDS, Sweep
from shared.errors import NotFound
from shared.jobs.outcome import JobOutcome, Outcome
from shared.jobs.registry import Delivery
from shared.lazy import Lazy
from shared.models.canary import CanaryStatus

if TYPE_CHECKING:
    from shared.models.principal import Principal
    from shared.schemas.canary import CanaryCreate


class Canaries:
    """Everything that happens to a canary, against Cloud Run, Monitoring and Firestore."""

    def __init__(self, parts: Parts):
        self.parts = parts
        self.store = parts.store
        self.effects = Effects(parts)
        self.checks = Checks(parts, self.effects)
        self._rollout = Rollout(parts, self.effects)
        self._manual = Manual(parts, self.effects)
        self._sweep = Sweep(self.checks, self.effects)

    def start(self, org: str, body: CanaryCreate, principal: Principal) -> dict[str, Any]:
        return self._rollout.start(org, body, principal)

    def promote(
        self, org: str, canary_id: str, principal: Principal, override_reason: str | None = None
    ) -> dict[str, Any]:
        """100% to the canary now; the linked deployment becomes deployed."""
        return self._manual.decide(
            org, canary_id, principal, CanaryStatus.promoted, override_reason
        )

    def abort(self, org: str, canary_id: str, principal: Principal) -> dict[str, Any]:
        """100% to the stable revision now; the linked deployment becomes failed."""
        return self._manual.decide(org, canary_id, principal, CanaryStatus.aborted)

    def check(self, org: str, canary_id: str, number: int | None = None):
        """Run check `number` if it is due; the canary after it, or None (nothing to do)."""
        return self.checks.check(org, canary_id, number)

    def sweep(self, budget_seconds: float = SWEEP_BUDGET_SECONDS) -> int:
        return self._sweep.run(budget_seconds)

    def run_check_job(self, delivery: Delivery) -> JobOutcome:
        """The worker's `canary_check` job: check `data["check"]` of canary `job_id`.

        A second delivery of the same check finds it run (or running) and does nothing."""
        if not delivery.organisation:
            return JobOutcome(Outcome.unknown, reason="a canary check names its organisation")
        number = delivery.data.get("check")
        try:
            record = self.check(delivery.organisation.lower(), delivery.job_id, number)
        except NotFound as exc:
            return JobOutcome(Outcome.unknown, reason=exc.message)
        if record is None:
            return JobOutcome(Outcome.done, reason=f"check {number} already ran or is not due")
        return JobOutcome(Outcome.ran, record["status"])


def _make(settings) -> Canaries:
    from shared.canary.probe import Probe
    from shared.canary.records import CanaryRecords
    from shared.deployments.services import services_for
    from shared.google.cloud_run import CloudRun
    from shared.google.monitoring import Monitoring
    from shared.jobs.queue import JobQueue
    from shared.organisations.service import organisations_for
    from shared.store.canaries import CanaryStore
    from shared.store.jobs import JobStore

    services = services_for(settings)
    parts = Parts(
        CanaryRecords(CanaryStore(services.db), services.events),
        CloudRun(settings),
        Monitoring(settings),
        # The governed queue: approvals, freeze windows and events apply to canaries too.
        deployments=services.deployments,
        queue=JobQueue(settings, JobStore(services.db)),
        probe=Probe(identity_tokens=settings.cloud_run_api_endpoint is None),
        # Only the organisation's granted services, checked before any Cloud Run call.
        require_service=organisations_for(settings).require_service_granted,
        system_actor=next(iter(settings.internal_service_accounts), None)
        or settings.tasks_service_account
        or "deployq-canary",
    )
    return Canaries(parts)


# The process's canary service.
canaries_for = Lazy(_make, key=id)
