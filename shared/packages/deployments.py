"""Package deployments: deploy now or as a job, roll back, recover what a dead process left."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from shared import clock
from shared.errors import BadRequest, Conflict, NotFound
from shared.jobs.errors import JobFailed
from shared.jobs.queue import JobQueue, idempotent_job_id
from shared.jobs.runner import JobRun
from shared.models.job import WAITING, JobType
from shared.models.package import (
    DeploymentStatus,
    DeployOptions,
    DeployRequest,
    action_record,
    deployment_move,
    require_usable,
)
from shared.packages.deploy import PackageDeploy, environment_db
from shared.packages.pack import environment_or_400
from shared.packages.writer import undo
from shared.store.jobs import JobStore
from shared.store.packages import PackageStore, new_id

S = DeploymentStatus


@dataclass(frozen=True)
class Deployed:
    """What a deploy request came to: a finished deployment, or a queued job."""

    deployment: dict[str, Any] | None = None
    job: dict[str, Any] | None = None
    job_created: bool = False


class PackageDeployments:
    """Deployments of packages into the organisations' environments."""

    def __init__(self, settings, store: PackageStore, jobs: JobStore, queue: JobQueue):
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.queue = queue

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
    ) -> Deployed:
        """Deploy now (the finished deployment), or as a job (the queued job).

        A deploy that fails and is undone is 409 with the failing records as details."""
        package = self._usable(org, package_id)
        environment_or_400(self.settings, org, request.environment)
        options = request.options.model_dump()
        if request.run_as_background or request.schedule_at:
            job_data = {
                "package_id": package_id,
                "environment": request.environment,
                "options": options,
                "user": actor,
                "deployment_id": new_id(),
            }
            job_id = idempotent_job_id(org, idempotency_key) if idempotency_key else None
            job, created = self.queue.create(
                org, JobType.package_deployment.value, job_data, request.schedule_at, job_id
            )
            return Deployed(job=job, job_created=created)
        record = self.new_deployment(package, request.environment, options, actor, None, None)
        self.store.create_deployment(org, record)
        result = self.run_deploy(org, package, record, options, None)
        if result["status"] == S.failed.value and not options["dry_run"]:
            raise Conflict(
                f"deployment {result['id']} failed and was undone: {result.get('error')}",
                code="deployment_failed",
                details=result["errors"],
            )
        return Deployed(deployment=result)

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
            "created_at": now,
            "started_at": now,
            "progress_at": now,
            "completed_at": None,
        }

    def run_deploy(self, org, package, record, options, checkpoint) -> dict[str, Any]:
        target = environment_db(self.settings, org, record["environment"])
        engine = PackageDeploy(self.store, org, package, record, target, options, checkpoint)
        return engine.run()

    def rollback(self, org: str, deployment_id: str, actor: str | None) -> dict[str, Any]:
        record = self.store.get_deployment(org, deployment_id)
        if record.get("dry_run"):
            raise Conflict("a dry run wrote nothing and cannot be rolled back", code="dry_run")
        if record["status"] != S.completed.value or not record.get("is_active"):
            raise Conflict(
                f"deployment {deployment_id} is {record['status']}; only an active "
                "completed deployment can be rolled back",
                code="not_active",
            )
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
        self.store.update_deployment(org, deployment_id, changes)
        record.update(changes)
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

    def recover(self, org: str, deployment: dict[str, Any]) -> None:
        """Finish a deployment a dead process left running: undo it and mark it failed."""
        undo(
            self.store,
            org,
            deployment["id"],
            environment_db(self.settings, org, deployment["environment"]),
        )
        self.store.update_deployment(
            org,
            deployment["id"],
            {
                "status": deployment_move(deployment["id"], deployment["status"], S.failed),
                "is_active": False,
                "completed_at": clock.now_text(),
                "error": "the deploying process stopped; what it wrote was undone",
                "progress_at": clock.now_text(),
            },
        )

    def deployment_job(self, run: JobRun) -> dict[str, Any]:
        data = run.data
        try:
            package = self._usable(run.org, data["package_id"])
        except (NotFound, Conflict) as exc:
            raise JobFailed(exc.message) from None
        try:
            environment_or_400(self.settings, run.org, data["environment"])
        except BadRequest as exc:
            raise JobFailed(exc.message) from None
        options = DeployOptions.model_validate(data.get("options") or {}).model_dump()
        existing = self.store.find_deployment(run.org, data["deployment_id"])
        if existing and existing["status"] in (S.completed.value, S.rolled_back.value):
            return self.job_result(existing)  # finished by an attempt that died before saying so
        if existing:
            deployment_move(existing["id"], existing["status"], S.running)  # redone afresh
            undo(
                self.store,
                run.org,
                existing["id"],
                environment_db(self.settings, run.org, existing["environment"]),
            )
        record = self.new_deployment(
            package,
            data["environment"],
            options,
            data.get("user"),
            data["deployment_id"],
            run.job["job_id"],
        )
        self.store.save_deployment(run.org, record)
        result = self.run_deploy(run.org, package, record, options, run.checkpoint)
        if result["status"] == S.failed.value:
            raise JobFailed(
                f"deployment {result['id']} failed and was undone: {result.get('error')}",
                self.job_result(result),
            )
        return self.job_result(result)

    @staticmethod
    def job_result(record: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "status",
            "records_processed",
            "records_succeeded",
            "records_skipped",
            "records_failed",
            "tables_processed",
            "dry_run",
        )
        result = {key: record.get(key) for key in keys}
        result["deployment_id"] = record["id"]
        result["errors"] = record.get("errors", [])[:100]
        result["pk_mapping_result"] = json.loads(json.dumps(record.get("pk_mapping_result", {})))
        return result

    def recover_abandoned(self, before: str) -> int:
        """Undo deployments left running with no progress since `before` by a dead process,
        unless their job waits for an attempt that will undo and redo them; how many."""
        recovered = 0
        for org, deployment in self.store.stale_deployments(before):
            job_id = deployment.get("job_id")
            if job_id:
                try:
                    job = self.jobs.get(org, job_id)
                except NotFound:
                    job = None
                if job and job["status"] in {s.value for s in WAITING}:
                    continue  # its next attempt undoes and redoes it
            self.recover(org, deployment)
            recovered += 1
        return recovered
