"""Package deployments as worker jobs: a deploy job's run, its result, and the recovery of
deployments a dead process left running."""

from __future__ import annotations

import json
from typing import Any

from shared import clock
from shared.errors import BadRequest, Conflict, NotFound
from shared.jobs.errors import JobFailed
from shared.jobs.runner import JobRun
from shared.models.job import WAITING
from shared.models.package import DeploymentStatus, deployment_move
from shared.models.principal import Principal
from shared.packages.deploy import environment_db
from shared.packages.pack import environment_or_400
from shared.packages.writer import undo

S = DeploymentStatus


def worker_principal(settings, org: str) -> Principal:
    """The worker as an actor: its service account's email."""
    email = settings.tasks_service_account or next(
        iter(settings.internal_service_accounts), "deployq-worker"
    )
    return Principal("internal", email, org, "admin", actor=email)


class DeploymentJobs:
    """The job side of PackageDeployments (its store, approvals, settings and events)."""

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
        from shared.schemas.package import DeployOptions

        options = DeployOptions.model_validate(data.get("options") or {}).model_dump()
        existing = self.store.find_deployment(run.org, data["deployment_id"])
        if existing and existing["status"] in (S.completed.value, S.rolled_back.value):
            return self.job_result(existing)  # finished by an attempt that died before saying so
        user = data.get("user")
        worker = worker_principal(self.settings, run.org)
        if not options["dry_run"] and not (existing and existing["status"] == S.running.value):
            self._freeze_at_start(run, existing, worker, user)
        kept = self._carried_over(run.org, existing)
        record = self.new_deployment(
            package,
            data["environment"],
            options,
            data.get("user"),
            data["deployment_id"],
            run.job["job_id"],
        )
        record.update(kept)
        record.setdefault("created_by_actor", user)
        self.store.save_deployment(run.org, record)
        self.emit(run.org, "started", existing, record, worker, None, user)
        result = self.run_deploy(run.org, package, record, options, run.checkpoint)
        self._finished(run.org, record, result, worker, None, user)
        if result["status"] == S.failed.value:
            raise JobFailed(
                f"deployment {result['id']} failed and was undone: {result.get('error')}",
                self.job_result(result),
            )
        return self.job_result(result)

    def _freeze_at_start(self, run: JobRun, existing, worker: Principal, user) -> None:
        """A job meets the freeze windows when it starts: JobFailed inside one (an approved
        deployment waiting for it ends `failed`)."""
        data = run.data
        try:
            self.approvals.check_freeze(
                run.org, data["environment"], None, data.get("override_reason")
            )
        except Conflict as exc:
            if existing and existing["status"] == S.awaiting_approval.value:
                now = clock.now_text()
                failed = dict(existing, status=S.failed.value, error=exc.message)
                failed.update(completed_at=now, progress_at=now)
                self.store.update_deployment(
                    run.org,
                    existing["id"],
                    {k: failed[k] for k in ("status", "error", "completed_at", "progress_at")},
                )
                self.emit(run.org, "failed", existing, failed, worker, None, user)
            raise JobFailed(f"{exc.code}: {exc.message}") from None

    def _carried_over(self, org: str, existing) -> dict[str, Any]:
        """What the new attempt keeps of an earlier record: an approved one's approvals; an
        interrupted attempt is undone and redone afresh."""
        if existing and existing["status"] == S.awaiting_approval.value:
            keys = ("approval_status", "approvals", "created_by_actor", "override_reason")
            return {key: existing.get(key) for key in (*keys, "created_at")}
        if existing:
            deployment_move(existing["id"], existing["status"], S.running)  # redone afresh
            undo(
                self.store,
                org,
                existing["id"],
                environment_db(self.settings, org, existing["environment"]),
            )
        return {"approval_status": "not_required", "approvals": []}

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
