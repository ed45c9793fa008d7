"""The deploy engine: writes a package into a target database, reversibly.

Tables deploy parents first (foreign-key order). A database row whose key is
taken in the target (neither skip nor update asked) gets a new key unused in
the target and in the package, and every foreign key pointing at it is
rewritten; `pk_mapping_result` reports `{table: {old: new}}`. What is written
goes through the journal first (`writer`), so a failed, cancelled, timed-out or
rolled-back deployment leaves the target exactly as it was.

Collaborators: `plan.DeployPlan` (the options and table order, immutable),
`target.TargetIndex` (what exists in the target), `keys.PackageKeys` (the
package's keys and new keys), `tally.Tally` (counts and errors) and
`writer.JournalWriter` (journal, progress, target commits).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared import clock, logs
from shared.jobs.errors import JobCancelled, Superseded
from shared.models.package import DeploymentStatus, action_record, deployment_move
from shared.packages import codec
from shared.packages.keys import PackageKeys
from shared.packages.plan import DeployPlan, batches
from shared.packages.tally import Tally, failure
from shared.packages.target import TargetIndex
from shared.packages.writer import (
    COMMITS_IN_FLIGHT,
    Checkpoint,
    Group,
    JournalWriter,
    Refused,
    Write,
    WriteRefused,
    undo,
)
from shared.store.environment import EnvironmentDatabase
from shared.store.packages import PackageStore

log = logs.get("packages.deploy")
READ_THREADS = 4


def environment_db(settings, org: str, environment: str) -> EnvironmentDatabase:
    """The database of one of the organisation's environments (400 if not granted)."""
    from shared.organisations.service import organisations_for
    from shared.store import firestore as fs

    target = organisations_for(settings).environment_for(org, environment)
    return EnvironmentDatabase(fs.client(target["project"], target["database"]))


class PackageDeploy:
    """One deployment of one package into one target database."""

    def __init__(
        self,
        store: PackageStore,
        org: str,
        package: dict[str, Any],
        record: dict[str, Any],
        target: EnvironmentDatabase,
        options: dict[str, Any],
        checkpoint: Checkpoint | None = None,
    ):
        self.store, self.org, self.package, self.record = store, org, package, record
        self.plan = DeployPlan.of(package, options)
        # target commits run behind the next group's reads and journal write (at most
        # COMMITS_IN_FLIGHT at once); reads of one group's slices run side by side
        self.pool = ThreadPoolExecutor(max_workers=READ_THREADS + COMMITS_IN_FLIGHT)
        self.index = TargetIndex(target, self.plan.read_size, self.pool)
        fetch = store.fetcher(org, package["id"])
        self.keys = PackageKeys(
            self.plan.tables, lambda t: codec.iter_records(t, fetch), self.index
        )
        self.tally = Tally()
        self.writer = JournalWriter(
            store, org, record["id"], target, self.pool, checkpoint, self.plan.continue_on_error
        )
        self.aborted = False

    # -- entry point ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Deploy; on a failure without continue_on_error, undo and record `failed`.

        Unexpected errors undo what was written and propagate; JobCancelled undoes and
        propagates; Superseded propagates untouched.
        """
        started = time.monotonic()
        try:
            try:
                self._deploy()
            finally:
                self.writer.drain(self._refused)
        except Superseded:
            raise
        except WriteRefused as exc:
            self.aborted = True
            self.tally.error(failure(exc.table, None, f"the target refused: {exc}"))
        except JobCancelled:
            self._undo_and_fail("the job was cancelled; what it wrote was undone", started)
            raise
        except Exception as exc:
            log.exception("deployment %s failed unexpectedly", self.record["id"])
            try:
                self._undo_and_fail(f"deployment failed: {exc}", started, action=False)
            except Exception:  # noqa: BLE001 - the sweep finishes the undo
                log.exception("undo of deployment %s did not finish", self.record["id"])
            raise
        finally:
            self.pool.shutdown(wait=True)
        if self.aborted:
            return self._undo_and_fail(None, started)
        return self._finish(DeploymentStatus.completed, started)

    # -- passes ---------------------------------------------------------------------

    def _deploy(self) -> None:
        for table in self.plan.tables:
            if table["name"] in self.plan.planned:
                self._plan_keys(table)
        for table in self.plan.tables:
            self._deploy_table(table)
            self.tally.tables_processed += 1
            if self.aborted:
                return

    def _rows(self, table: dict[str, Any]):
        return self.keys.rows(table)

    def _plan_keys(self, table: dict[str, Any]) -> None:
        """Assign new keys for a table before any row refers to it (self/cyclic references)."""
        name, pk = table["name"], table["primary_key"]
        if self.plan.skip_existing or self.plan.update_existing:
            return
        for rows in batches(self._rows(table), self.plan.group_size):
            keys = [codec.key_text(r.get(pk)) for r in rows]
            existing = self.index.existing(name, keys)
            taken = [k for k in keys if k in existing]
            for old, new in zip(taken, self.keys.new_keys(table, taken), strict=False):
                self.keys.mapping[name][old] = new

    def _deploy_table(self, table: dict[str, Any]) -> None:
        tally = self.tally
        for rows in batches(self._rows(table), self.plan.group_size):
            group = self._prepare(table, rows)
            tally.processed += len(rows)
            tally.succeeded += group.succeeded
            tally.skipped += group.skipped
            tally.failed += len(group.failures)
            for entry in group.failures:
                tally.error(entry)
                self.keys.failed.setdefault(table["name"], set()).add(entry["key"])
            if group.failures and not self.plan.continue_on_error:
                self.aborted = True
                self.writer.pending = []  # never journalled, never written
                return
            self._commit(group)
        self.writer.flush(self._refused, tally.progress())

    # -- one group ------------------------------------------------------------------

    def _prepare(self, table: dict[str, Any], rows: list[dict[str, Any]]) -> Group:
        """The writes of one group of rows: skipped, updated, remapped or failed."""
        name = table["name"]
        group = Group()
        pending, remap = self._sort_rows(table, rows, group)
        if remap:
            new_keys = self.keys.new_keys(table, [pending[i][1] for i in remap])
            for position, new in zip(remap, new_keys, strict=False):
                row, original, _, _, _ = pending[position]
                self.keys.mapping[name][original] = new
                pending[position] = (row, original, codec.key_text(new), None, False)
        parents: list[Write] = []
        mapping = self.keys.mapping[name]
        for row, original, key, before, merge in pending:
            if self.plan.is_db:
                data = dict(row)
                if original in mapping:
                    data[table["primary_key"]] = mapping[original]
                problem = self._references(table, data, parents)
                if problem:
                    group.failures.append(failure(name, original, problem))
                    continue
            else:
                data = row["data"]
            group.writes.append(Write(name, key, data, merge, before, original))
            group.succeeded += 1
        group.writes = parents + group.writes
        return group

    def _sort_rows(self, table, rows, group: Group) -> tuple[list[tuple], list[int]]:
        """(row, original key, key, before-image, merge) of each row to write, and the
        positions of rows whose key is taken (to remap); skips and failures go to `group`."""
        name, plan = table["name"], self.plan
        pk = table.get("primary_key") if plan.is_db else None
        originals = [codec.key_text(r.get(pk)) if plan.is_db else r["id"] for r in rows]
        planned = name in plan.planned
        mapping = self.keys.mapping[name]
        keys = [codec.key_text(mapping[k]) if planned and k in mapping else k for k in originals]
        existing = self.index.existing(name, keys, keep_data=True)
        pending: list[tuple] = []
        remap: list[int] = []
        for row, original, key in zip(rows, originals, keys, strict=False):
            exists = key in existing
            if exists and plan.skip_existing:
                group.skipped += 1
                continue
            if exists and not plan.update_existing:
                if not plan.is_db:
                    message = f"document {name}/{original} already exists in the target"
                    group.failures.append(failure(name, original, message))
                    continue
                remap.append(len(pending))
            before = existing.get(key) if exists else None
            pending.append((row, original, key, before, exists and plan.update_existing))
        return pending, remap

    def _references(
        self, table: dict[str, Any], data: dict[str, Any], parents: list[Write]
    ) -> str | None:
        """Rewrite remapped foreign keys; validate or create missing parents. A reason or None."""
        for fk in table.get("foreign_keys", []):
            column = fk["column"]
            value = data.get(column)
            if value is None:
                continue
            ref_table, ref_column = fk["references"].split(".", 1)
            spec = self.plan.table(ref_table)
            is_pk = spec is not None and spec["primary_key"] == ref_column
            text = codec.key_text(value)
            if is_pk and text in self.keys.mapping.get(ref_table, {}):
                value = self.keys.mapping[ref_table][text]
                data[column] = value
            if not (self.plan.validate_references or self.plan.create_missing):
                continue
            if spec is not None and self.keys.in_package(ref_table, ref_column, is_pk, text, value):
                continue
            if self.index.has_value(ref_table, ref_column, value, spec is None or is_pk):
                continue
            if self.plan.create_missing:
                self._create_parent(ref_table, ref_column, value, parents)
                continue
            return (
                f"column {column}: value {codec.canonical(value)} does not match any "
                f"{ref_table}.{ref_column}"
            )
        return None

    def _create_parent(self, table: str, column: str, value: Any, parents: list[Write]) -> None:
        """A missing parent, created as a row holding its primary key (once)."""
        key = codec.key_text(value)
        if not self.index.known.get((table, key)):
            parents.append(Write(table, key, {column: value}, False, None))
            self.index.remember((table, key), True)

    def _commit(self, group: Group) -> None:
        for write in group.writes:
            self.index.remember((write.collection, write.key), True)
        if self.plan.dry_run or not group.writes:
            if not self.plan.dry_run and self.writer.checkpoint is not None:
                if not self.writer.pending:
                    self.writer.record_progress(None, self.tally.progress())
            return
        self.writer.add(group, self._refused, self.tally.progress())

    def _refused(self, refused: Refused) -> None:
        """Count documents the target refused (continue_on_error) as failed records."""
        for write, reason in refused:
            key = write.record if write.record is not None else write.key
            if write.record is not None:
                self.keys.failed.setdefault(write.collection, set()).add(key)
            self.tally.refused(write.collection, key, reason, write.record is not None)

    # -- endings --------------------------------------------------------------------

    def _move(self, target: DeploymentStatus) -> str:
        return deployment_move(self.record["id"], self.record["status"], target)

    def _finish(
        self, status: DeploymentStatus, started: float, error: str | None = None
    ) -> dict[str, Any]:
        now = clock.now_text()
        completed = status == DeploymentStatus.completed
        self.record.update(self.tally.report(self.keys.report()))
        self.record.update(
            {
                "status": self._move(status),
                "is_active": completed and not self.plan.dry_run,
                "completed_at": now,
                "progress_at": now,
                "deployed_at": now if completed else None,
            }
        )
        if error:
            self.record["error"] = error
        self.store.save_deployment(self.org, self.record)
        self._action(completed, started, error)
        return self.record

    def _action(self, completed: bool, started: float, error: str | None) -> None:
        tally = self.tally
        self.store.add_action(
            self.org,
            self.package["id"],
            action_record(
                "deploy",
                status="completed" if completed else "failed",
                started=started,
                started_at=self.record.get("started_at"),
                actor=self.record.get("deployed_by"),
                source=self.package.get("environment"),
                target=self.record["environment"],
                processed=tally.processed,
                succeeded=tally.succeeded if completed else 0,
                failed=tally.failed,
                tables=tally.tables_processed,
                deployment_id=self.record["id"],
                dry_run=self.plan.dry_run,
                error=error,
            ),
        )

    def _undo_and_fail(
        self, error: str | None, started: float, action: bool = True
    ) -> dict[str, Any]:
        if not self.plan.dry_run:
            self.record["status"] = self._move(DeploymentStatus.undoing)
            self.store.update_deployment(
                self.org,
                self.record["id"],
                {"status": self.record["status"], "progress_at": clock.now_text()},
            )
            undo(self.store, self.org, self.record["id"], self.index.target)
        if error is None:
            failing = len(self.tally.errors)
            error = (
                f"{failing} record(s) failed; nothing was written to {self.record['environment']}"
                if not self.plan.dry_run
                else f"{failing} record(s) would fail"
            )
        if action:
            return self._finish(DeploymentStatus.failed, started, error)
        self.record.update(self.tally.report(self.keys.report()))
        self.record.update(
            {
                "status": self._move(DeploymentStatus.failed),
                "is_active": False,
                "error": error,
                "completed_at": clock.now_text(),
            }
        )
        self.store.save_deployment(self.org, self.record)
        return self.record
