"""Package files: generate (JSON or ZIP, now or as a job) and import, with the actions they
record; the file side of Packages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from shared import clock, logs
from shared.errors import BadRequest, Conflict, NotFound
from shared.jobs.errors import JobFailed
from shared.jobs.runner import JobRun
from shared.models.job import JobType
from shared.models.package import action_record, public_package
from shared.packages import codec, files
from shared.packages.pack import environment_or_400, package_record
from shared.store.packages import new_id

log = logs.get("packages")


class PackageFiles:
    """Generate and import (on Packages: its store, queue, settings and events)."""

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
