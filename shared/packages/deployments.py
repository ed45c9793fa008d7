"""Package deployments: deploy now or as a job, roll back, recover what a dead process left."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.errors import Conflict
from shared.events import EventSink, build_event
from shared.governance.approvals import APPROVED, PENDING, Approvals, Target, actor_of
from shared.jobs.queue import JobQueue, idempotent_job_id
from shared.models.job import JobType
from shared.models.package import (
    Deployed,
    DeploymentStatus,
    deployment_move,
    public_deployment,
    require_usable,
)
from shared.models.principal import Principal
from shared.packages.deploy import PackageDeploy, environment_db
from shared.packages.deployment_jobs import DeploymentJobs
from shared.packages.deployment_rollbacks import DeploymentRollbacks
from shared.packages.pack import environment_or_400
from shared.store.jobs import JobStore
from shared.store.packages import PackageStore, new_id

if TYPE_CHECKING:
    from shared.schemas.package import DeployRequest

    pass

S = DeploymentStatus
EVENT = "deployq.package_deployment."


def rejected_package(before: dict, actor: str, comment: str | None, now: str) -> dict:
    """A rejected package deployment: `rejected`, nothing written."""
    return {
        "status": deployment_move(before["id"], before["status"], S.rejected),
        "completed_at": now,
        "progress_at": now,
        "error": f"Rejected by {actor}: {comment}",
    }


class PackageDeployments(DeploymentRollbacks, DeploymentJobs):
    """Deployments of packages into the organisations' environments."""

    def __init__(
        self,
        settings,
        store: PackageStore,
        jobs: JobStore,
        queue: JobQueue,
        approvals: Approvals,
        events: EventSink,
    ):
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.queue = queue
        self.approvals = approvals
        self.events = events
        self.target = Target(
            kind="package_deployment",
            waiting=S.awaiting_approval.value,
            db=store.db,
            get=store.get_deployment,
            read=store.read_deployment,
            write=store.write_deployment,
            public=public_deployment,
            rejected=rejected_package,
            lock=lambda org, record: nullcontext(),
        )

    def emit(
        self,
        org: str,
        what: str,
        before: dict | None,
        after: dict,
        principal: Principal | None,
        meta: dict | None = None,
        on_behalf_of: str | None = None,
        extra: dict | None = None,
        writer=None,
    ) -> list[dict[str, Any]]:
        """Record `deployq.package_deployment.<what>`: in `writer`'s commit (the caller
        publishes the returned events after it), or alone and published now."""
        event = build_event(
            org,
            EVENT + what,
            f"package_deployments/{after['id']}",
            None if before is None else public_deployment(before),
            public_deployment(after),
            principal=principal,
            meta=meta,
            extra=extra,
            on_behalf_of=on_behalf_of,
            time=clock.now_text(),
        )
        batch = writer or self.store.db.batch()
        self.events.record(batch, org, [event])
        if writer is None:
            batch.commit()
            self.events.publish_soon(org, [event])
        return [event]

    def _usable(self, org: str, package_id: str) -> dict[str, Any]:
        """A package that may be generated or deployed: 409 when it is deleted."""
        return require_usable(self.store.get_package(org, package_id))

    def deploy(
        self,
        org: str,
        package_id: str,
        request: DeployRequest,
        actor: str | None,
        idempotency_key: str | None = None,
        principal: Principal | None = None,
        meta: dict | None = None,
    ) -> Deployed:
        """Deploy now (the finished deployment), as a job (the queued job), or wait for
        approval (the waiting deployment, nothing written).

        Inside a freeze window a deploy now or in the background is 409 `freeze_window`
        (a scheduled one meets the windows when its job starts); an admin's
        `override_reason` passes. A dry run never waits and is never frozen.
        A deploy that fails and is undone is 409 with the failing records as details."""
        package = self._usable(org, package_id)
        environment_or_400(self.settings, org, request.environment)
        options = request.options.model_dump()
        override = request.override_reason
        if not options["dry_run"]:
            if not request.schedule_at:
                self.approvals.check_freeze(org, request.environment, principal, override)
            if self.approvals.requires_approval(org, request.environment):
                record = self._awaiting(
                    org, package, request, options, actor, principal, meta, idempotency_key
                )
                return Deployed(deployment=record, waiting=True)
        if request.run_as_background or request.schedule_at:
            job_data = {
                "package_id": package_id,
                "environment": request.environment,
                "options": options,
                "user": actor,
                "deployment_id": new_id(),
                "override_reason": override,
            }
            job_id = idempotent_job_id(org, idempotency_key) if idempotency_key else None
            job, created = self.queue.create(
                org, JobType.package_deployment.value, job_data, request.schedule_at, job_id
            )
            return Deployed(job=job, job_created=created)
        record = self.new_deployment(package, request.environment, options, actor, None, None)
        record.update(created_by_actor=actor, override_reason=override)
        batch = self.store.db.batch()
        self.store.stage_deployment(batch, org, record)
        extra = {"override_reason": override} if override else None
        events = self.emit(org, "started", None, record, principal, meta, extra=extra, writer=batch)
        batch.commit()
        self.events.publish_soon(org, events)
        result = self.run_deploy(org, package, record, options, None)
        self._finished(org, record, result, principal, meta)
        if result["status"] == S.failed.value and not options["dry_run"]:
            raise Conflict(
                f"deployment {result['id']} failed and was undone: {result.get('error')}",
                code="deployment_failed",
                details=result["errors"],
            )
        return Deployed(deployment=result)

    def _finished(self, org, record, result, principal, meta, on_behalf_of=None) -> None:
        what = "completed" if result["status"] == S.completed.value else "failed"
        self.emit(org, what, record, result, principal, meta, on_behalf_of)

    def _awaiting(
        self, org, package, request, options, actor, principal, meta, idempotency_key=None
    ) -> dict:
        """Store the deployment waiting for approval with its `approval.requested` event.

        With an Idempotency-Key its id derives from the key: a retry answers the first."""
        deployment_id = (
            idempotent_job_id(org, f"waiting:{idempotency_key}") if idempotency_key else None
        )
        if deployment_id is not None:
            existing = self.store.find_deployment(org, deployment_id)
            if existing is not None:
                return existing
        record = self.new_deployment(
            package, request.environment, options, actor, deployment_id, None
        )
        record.update(
            status=S.awaiting_approval.value,
            approval_status=PENDING,
            approvals=[],
            created_by_actor=actor_of(principal) if principal else actor,
            override_reason=request.override_reason,
            schedule_at=request.schedule_at,
            started_at=None,
        )
        event = self.approvals.requested_event(
            org, "package_deployment", record, public_deployment(record), principal, meta
        )
        batch = self.store.db.batch()
        self.store.stage_deployment(batch, org, record)
        self.events.record(batch, org, [event])
        batch.commit()
        self.events.publish_soon(org, [event])
        return record

    def decide(
        self,
        org: str,
        deployment_id: str,
        principal: Principal,
        decision: str,
        comment: str | None,
        meta: dict,
    ) -> dict[str, Any]:
        """Approve or reject a waiting deployment (the approvals service's rules); the last
        approval needed starts it as a background job."""
        record = self.approvals.decide_on(
            self.target, org, deployment_id, principal, decision, comment, meta
        )
        ready = record.get("approval_status") == APPROVED
        if ready and record["status"] == S.awaiting_approval.value and record.get("rollback_of"):
            target = self._rollbackable(org, record["rollback_of"])
            self._roll_back(
                org, target, record.get("deployed_by"), principal, meta, record.get("deployed_by")
            )
            now = clock.now_text()
            running = deployment_move(record["id"], record["status"], S.running)
            changes = {
                "status": deployment_move(record["id"], running, S.completed),
                "started_at": now,
                "completed_at": now,
                "progress_at": now,
            }
            self.store.update_deployment(org, record["id"], changes)
            record.update(changes)
        elif ready and record["status"] == S.awaiting_approval.value and not record.get("job_id"):
            job_data = {
                "package_id": record["package_id"],
                "environment": record["environment"],
                "options": record["options"],
                "user": record.get("deployed_by"),
                "deployment_id": record["id"],
                "override_reason": record.get("override_reason"),
            }
            job, created = self.queue.create(
                org,
                JobType.package_deployment.value,
                job_data,
                record.get("schedule_at"),
                idempotent_job_id(org, f"approved-package-deployment:{record['id']}"),
            )
            self.store.update_deployment(org, record["id"], {"job_id": job["job_id"]})
            record.update(job_id=job["job_id"], job_created=created)
        return record

    @staticmethod
    def new_deployment(package, environment, options, actor, deployment_id, job_id):
        now = clock.now_text()
        return {
            "id": deployment_id or new_id(),
            "package_id": package["id"],
            "package_name": package["name"],
            "package_version": package["version"],
            "environment": environment,
            "status": S.running.value,
            "dry_run": options["dry_run"],
            "is_active": False,
            "options": options,
            "deployed_at": None,
            "deployed_by": actor,
            "rolled_back_at": None,
            "rolled_back_by": None,
            "pk_mapping_result": {},
            "records_processed": 0,
            "records_succeeded": 0,
            "records_skipped": 0,
            "records_failed": 0,
            "tables_processed": 0,
            "errors": [],
            "job_id": job_id,
            "approval_status": "not_required",
            "approvals": [],
            "created_at": now,
            "started_at": now,
            "progress_at": now,
            "completed_at": None,
        }

    def run_deploy(self, org, package, record, options, checkpoint) -> dict[str, Any]:
        target = environment_db(self.settings, org, record["environment"])
        engine = PackageDeploy(self.store, org, package, record, target, options, checkpoint)
        return engine.run()
