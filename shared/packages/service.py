"""What the packages and worker functions do with packages: the operations behind each route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from shared import clock, logs
from shared.errors import BadRequest, Conflict, NotFound
from shared.events import build_event
from shared.jobs.errors import JobCancelled, JobFailed
from shared.jobs.queue import JobQueue
from shared.jobs.runner import JobRun
from shared.models.job import JobType, public_job
from shared.models.package import (
    DeployRequest,
    PackageCreate,
    action_record,
    package_changes,
    public_package,
    require_usable,
)
from shared.packages import codec, files
from shared.packages.deployments import PackageDeployments, worker_principal
from shared.packages.pack import environment_or_400, pack, package_record
from shared.store import firestore as fs
from shared.store.firestore import run_transaction
from shared.store.jobs import JobStore
from shared.store.packages import PackageStore, new_id

log = logs.get("packages")
RECENT_ACTIONS = 5


class Packages:
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

    # -- generate / import --------------------------------------------------------

    def generate(
        self, org: str, package_id: str, fmt: str, actor: str | None
    ) -> tuple[Iterator[bytes], str, str]:
        """(stream of the file, mimetype, file name); the action is recorded when it ends."""
        package = self._usable(org, package_id)
        contents = codec.iter_contents_text(package, self.store.fetcher(org, package_id))
        if fmt == "zip":
            stream = files.iter_zip_file(package, contents)
            mimetype, name = "application/zip", files.file_name(package)[:-5] + ".zip"
        else:
            stream = files.iter_json_file(package, contents)
            mimetype, name = "application/json", files.file_name(package)
        return self._recorded(org, package, stream, fmt, actor), mimetype, name

    def _recorded(self, org, package, stream, fmt, actor) -> Iterator[bytes]:
        started, started_at, size = time.monotonic(), clock.now_text(), 0
        for piece in stream:
            size += len(piece)
            yield piece
        self._generate_action(org, package, started, started_at, actor)
        log.info("generated %s %s (%d bytes)", package["id"], fmt, size)

    def _generate_action(self, org, package, started, started_at, actor) -> dict[str, Any]:
        total = package.get("metadata", {}).get("total_records", 0)
        return self.store.add_action(
            org,
            package["id"],
            action_record(
                "generate",
                started=started,
                started_at=started_at,
                actor=actor,
                source=package.get("environment"),
                target=None,
                processed=total,
                tables=len(package.get("tables", [])),
            ),
        )

    def import_package(
        self,
        org: str,
        data: Any,
        environment: str | None,
        actor: str | None,
        principal=None,
        meta=None,
    ) -> dict[str, Any]:
        """Create a package from a generated file's object; 400 naming the problem if malformed."""
        started, started_at = time.monotonic(), clock.now_text()
        try:
            record = self._imported(org, data, environment, actor)
        except codec.PackageFormatError as exc:
            raise BadRequest(f"malformed package: {exc}", code="invalid_package") from None
        counts = record["metadata"]["record_counts"]
        self.store.add_action(
            org,
            record["id"],
            action_record(
                "import",
                started=started,
                started_at=started_at,
                actor=actor,
                source=environment,
                target=None,
                processed=sum(counts.values()),
                tables=len(counts),
            ),
        )
        after = public_package(record)
        self._emit(
            org,
            "deployq.package.imported",
            f"packages/{record['id']}",
            None,
            after,
            principal,
            meta,
        )
        return record

    def _imported(self, org, data, environment, actor) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise codec.PackageFormatError("package_data must be an object")
        for name in ("name", "version"):
            if not isinstance(data.get(name), str) or not data[name].strip() or "/" in data[name]:
                raise codec.PackageFormatError(f"{name} must be a non-empty text without '/'")
        package_type = data.get("package_type")
        if package_type not in (codec.DATABASE, codec.DOCUMENT):
            raise codec.PackageFormatError("package_type must be database or document")
        if environment is not None:
            environment_or_400(self.settings, org, environment)
        tables = files.validate_contents(package_type, data.get(codec.data_key(package_type)))
        try:
            checksum, size, _ = self._write(package_type, tables, None)
        except ValueError as exc:  # NaN or infinity, which JSON cannot carry
            raise codec.PackageFormatError(
                f"the contents hold a value JSON cannot carry: {exc}"
            ) from None
        declared = data.get("checksum")
        if declared is not None and declared != checksum:
            raise BadRequest(
                f"checksum mismatch: the contents hash to {checksum}, the package declares "
                f"{declared}",
                code="checksum_mismatch",
                details=[{"field": "package_data.checksum", "error": "does not match contents"}],
            )
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        package_id = new_id()
        try:
            checksum, size, stored = self._write(
                package_type, tables, self.store.chunk_sink(org, package_id)
            )
        except BaseException:
            self.store.discard_chunks(org, package_id)
            raise
        tags = data.get("tags") if isinstance(data.get("tags"), list) else []
        record = package_record(
            package_id,
            name=data["name"],
            version=data["version"],
            package_type=package_type,
            description=_text_or_none(data.get("description")),
            environment=environment,
            metadata=metadata,
            tags=[t for t in tags if isinstance(t, str)],
            checksum=checksum,
            size=size,
            tables=stored,
            actor=actor,
            imported_from=_text_or_none(data.get("id")),
        )
        self.store.save_package(org, record)
        return record

    @staticmethod
    def _write(package_type, tables, sink):
        writer = codec.ContentsWriter(package_type, sink)
        for table in tables:
            if package_type == codec.DATABASE:
                spec = {
                    "name": table["name"],
                    "primary_key": table.get("primary_key", "id"),
                    "foreign_keys": [
                        {"column": fk["column"], "references": fk["references"]}
                        for fk in table.get("foreign_keys", [])
                    ],
                }
                records = table["rows"]
            else:
                spec = {"name": table["name"]}
                records = [{"id": d["id"], "data": d["data"]} for d in table["documents"]]
            writer.begin_table(spec)
            for record in records:
                writer.add(record)
            writer.end_table()
        return writer.finish()

    @staticmethod
    def read_upload(raw: bytes) -> Any:
        try:
            return files.read_zip(raw)
        except codec.PackageFormatError as exc:
            raise BadRequest(f"malformed package: {exc}", code="invalid_package") from None

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

    # -- job handlers -------------------------------------------------------------

    def generation_job(self, run: JobRun) -> dict[str, Any]:
        return self.finished(run, self._generation_job)

    def _generation_job(self, run: JobRun) -> dict[str, Any]:
        data = run.data
        try:
            package = self._usable(run.org, data["package_id"])
        except (NotFound, Conflict) as exc:
            raise JobFailed(exc.message) from None
        started, started_at = time.monotonic(), clock.now_text()
        contents = codec.iter_contents_text(package, self.store.fetcher(run.org, package["id"]))
        fmt = data.get("format", "json")
        stream = (files.iter_zip_file if fmt == "zip" else files.iter_json_file)(package, contents)
        size = sum(len(piece) for piece in stream)
        action = self._generate_action(run.org, package, started, started_at, data.get("user"))
        return {
            "format": fmt,
            "file_name": files.file_name(package),
            "size_bytes": size,
            "checksum": package["checksum"],
            "action_id": action["id"],
            "records": package.get("metadata", {}).get("total_records", 0),
        }

    def generate_in_background(
        self, org, package_id, fmt, actor, principal=None, meta=None
    ) -> dict[str, Any]:
        """The queued generation job of the package's file."""
        self._usable(org, package_id)
        job, created = self.queue.create(
            org,
            JobType.package_generation.value,
            {"package_id": package_id, "format": fmt, "user": actor},
            None,
        )
        self.job_created(org, job, created, principal, meta)
        return job


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
