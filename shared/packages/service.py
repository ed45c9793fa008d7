"""What the packages and worker functions do with packages: the operations behind each route."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock
from shared.events import build_event
from shared.jobs.errors import JobCancelled, JobFailed
from shared.jobs.queue import JobQueue
from shared.jobs.runner import JobRun
from shared.models.job import public_job
from shared.models.package import package_changes, public_package, require_usable
from shared.packages.deployment_jobs import worker_principal
from shared.packages.deployments import PackageDeployments
from shared.packages.files_service import PackageFiles
from shared.packages.pack import pack
from shared.store import firestore as fs
from shared.store.firestore import run_transaction
from shared.store.jobs import JobStore
from shared.store.packages import PackageStore

if TYPE_CHECKING:
    from shared.schemas.package import DeployRequest, PackageCreate

RECENT_ACTIONS = 5


class Packages(PackageFiles):
    """Packages of every organisation, on the control-plane database of `settings`."""

    def __init__(self, settings):
        self.settings = settings
        db = fs.client(settings.project, settings.firestore_database)
        self.store = PackageStore(db)
        self.jobs = JobStore(db)
        self.queue = JobQueue(settings, self.jobs)
        # The one approvals service and event sink of the deployment queue.
        from shared.deployments.services import services_for

        services = services_for(settings)
        self.events = services.events
        self.deployments = PackageDeployments(
            settings, self.store, self.jobs, self.queue, services.approvals, self.events
        )

    def _usable(self, org: str, package_id: str) -> dict[str, Any]:
        """A package that may be generated or deployed: 409 when it is deleted."""
        return require_usable(self.store.get_package(org, package_id))

    def _emit(
        self,
        org: str,
        type_: str,
        subject: str,
        before: dict | None,
        after: dict | None,
        principal=None,
        meta=None,
        writer=None,
        on_behalf_of: str | None = None,
    ) -> list[dict[str, Any]]:
        """Record one event (in `writer`'s commit, or alone and published now); returns it."""
        event = build_event(
            org,
            type_,
            subject,
            before,
            after,
            principal=principal,
            meta=meta,
            on_behalf_of=on_behalf_of,
            time=clock.now_text(),
        )
        batch = writer or self.store.db.batch()
        self.events.record(batch, org, [event])
        if writer is None:
            batch.commit()
            self.events.publish_soon(org, [event])
        return [event]

    def job_created(self, org, job, created, principal=None, meta=None) -> None:
        if created:
            subject = f"jobs/{job['job_id']}"
            self._emit(org, "deployq.job.created", subject, None, public_job(job), principal, meta)

    # -- packages -----------------------------------------------------------------

    def create(
        self, org: str, body: PackageCreate, actor: str | None, principal=None, meta=None
    ) -> dict[str, Any]:
        record = pack(self.settings, self.store, org, body, actor)
        after = public_package(record)
        self._emit(
            org, "deployq.package.created", f"packages/{record['id']}", None, after, principal, meta
        )
        return record

    def get(self, org: str, package_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        package = self.store.get_package(org, package_id)
        return package, self.store.list_actions(org, package_id, RECENT_ACTIONS)

    def update(
        self, org: str, package_id: str, changes: dict[str, Any], principal=None, meta=None
    ) -> None:
        if changes.get("status") is not None:
            changes["active"] = True
        self._change(org, package_id, changes, "updated", principal, meta)

    def delete(self, org: str, package_id: str, principal=None, meta=None) -> None:
        changes = {"status": "deleted", "active": False}
        self._change(org, package_id, changes, "deleted", principal, meta)

    def _change(self, org, package_id, changes, what, principal, meta) -> None:
        """Apply a PUT or DELETE in a transaction (rules: `package_changes`) with its event."""
        store = self.store

        def body(transaction) -> list[dict[str, Any]]:
            current = store.read_package(transaction, org, package_id)
            update = package_changes(current, changes, clock.now_text())
            store.write_package_changes(transaction, org, package_id, update)
            return self._emit(
                org,
                f"deployq.package.{what}",
                f"packages/{package_id}",
                public_package(current),
                public_package({**current, **update}),
                principal,
                meta,
                writer=transaction,
            )

        events = run_transaction(store.db, body)
        self.events.publish_soon(org, events)

    def actions(self, org: str, package_id: str, limit: int, offset: int):
        self.store.get_package(org, package_id)
        return self.store.list_actions(org, package_id, limit, offset)

    # -- deploy (shared.packages.deployments) ------------------------------------

    def deploy(
        self,
        org,
        package_id,
        request: DeployRequest,
        actor,
        idempotency_key=None,
        principal=None,
        meta=None,
    ):
        deployed = self.deployments.deploy(
            org, package_id, request, actor, idempotency_key, principal, meta
        )
        if deployed.job is not None:
            self.job_created(org, deployed.job, deployed.job_created, principal, meta)
        return deployed

    def rollback(self, org: str, deployment_id: str, actor: str | None, principal=None, meta=None):
        return self.deployments.rollback(org, deployment_id, actor, principal, meta)

    def decide(self, org, deployment_id, principal, decision, comment, meta) -> dict[str, Any]:
        record = self.deployments.decide(org, deployment_id, principal, decision, comment, meta)
        if decision == "approved" and record.get("job_id") and record.get("job_created"):
            self.job_created(org, self.jobs.get(org, record["job_id"]), True, principal, meta)
        return record

    def cancel_job(self, org: str, job_id: str, principal=None, meta=None) -> dict[str, Any]:
        before = self.jobs.get(org, job_id)
        job = self.queue.cancel(org, job_id)
        if job.get("status") != before.get("status") or job.get("cancel_requested") != before.get(
            "cancel_requested"
        ):
            self._emit(
                org,
                "deployq.job.cancelled",
                f"jobs/{job_id}",
                public_job(before),
                public_job(job),
                principal,
                meta,
            )
        return job

    def finished(self, run: JobRun, handler) -> dict[str, Any]:
        """Run a stored job's handler; a job that ends (done or failed for good) publishes
        `deployq.job.finished`, made by the worker for the job's user."""
        try:
            result = handler(run)
        except JobFailed as exc:
            self._job_finished(run, "failed", str(exc))
            raise
        except JobCancelled:
            self._job_finished(run, "cancelled", None)
            raise
        self._job_finished(run, "completed", None)
        return result

    def _job_finished(self, run: JobRun, outcome: str, error: str | None) -> None:
        self._emit(
            run.org,
            "deployq.job.finished",
            f"jobs/{run.job['job_id']}",
            None,
            {**public_job(run.job), "status": outcome, "error": error},
            worker_principal(self.settings, run.org),
            on_behalf_of=run.data.get("user"),
        )

    def deployment_job(self, run: JobRun) -> dict[str, Any]:
        return self.finished(run, self.deployments.deployment_job)

    def recover_abandoned(self, before: str) -> int:
        return self.deployments.recover_abandoned(before)
