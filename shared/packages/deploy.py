"""The deploy engine: writes a package into a target database, reversibly.

Before each commit to the target, the previous value of every document it
writes (its before-image, or "absent") goes into the deployment's journal in
the control-plane database, in the same commit as the progress record. Undo
replays the journal newest first, so a failed, cancelled, timed-out or
rolled-back deployment leaves the target exactly as it was; undo is
idempotent, so a crash during undo is finished by the next attempt or the sweep.

Tables deploy parents first (foreign-key order). A database row whose key is
taken in the target (neither skip nor update asked) gets a new key unused in
the target and in the package, and every foreign key pointing at it is
rewritten; `pk_mapping_result` reports `{table: {old: new}}`.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock, logs
from shared.jobs.errors import JobCancelled, Superseded
from shared.models.package import action_record
from shared.packages import codec
from shared.store.packages import PackageStore

log = logs.get("packages.deploy")
MAX_COMMIT_WRITES = 500
MAX_ERRORS_KEPT = 1000
MAX_CACHE = 200_000
COMMITS_IN_FLIGHT = 3
JOURNAL_GROUPS = 4
# A target collection with at most this many documents has its ids listed once (keys only),
# so existence needs no read per record; larger ones are read per group with get_all.
ID_LIST_LIMIT = 100_000
READ_THREADS = 4
# Commits of progress refused because the job changed meanwhile, before giving up.
PROGRESS_TRIES = 5


class WriteRefused(Exception):
    """The target database refused a commit (an invalid document); the deploy fails."""

    def __init__(self, table: str, message: str):
        super().__init__(message)
        self.table = table


# checkpoint(batch): called before each journal commit; adds the job's progress to the
# batch, raises JobCancelled or Superseded.
Checkpoint = Callable[[Any], None]


@dataclass
class Write:
    collection: str
    key: str
    data: dict[str, Any]
    merge: bool
    before: Any  # encoded before-image, None when the document is absent
    record: str | None = None  # the package record's key; None for a created parent


@dataclass
class Group:
    writes: list[Write] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    succeeded: int = 0
    skipped: int = 0


def fk_order(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tables with parents before children (package order among equals; cycles keep it too)."""
    names = [t["name"] for t in tables]
    depends = {
        t["name"]: {
            fk["references"].split(".", 1)[0]
            for fk in t.get("foreign_keys", [])
            if fk["references"].split(".", 1)[0] in names
            and fk["references"].split(".", 1)[0] != t["name"]
        }
        for t in tables
    }
    done: list[str] = []
    remaining = list(names)
    while remaining:
        ready = [n for n in remaining if depends[n] <= set(done)]
        if not ready:  # a cycle: take the first remaining in package order
            ready = [remaining[0]]
        done.append(ready[0])
        remaining.remove(ready[0])
    by_name = {t["name"]: t for t in tables}
    return [by_name[n] for n in done]


def target_client(settings, org: str, environment: str):
    """The Firestore client of one of the organisation's environments (400 if not granted)."""
    from shared.organisations.service import organisations_for
    from shared.store import firestore as fs

    target = organisations_for(settings).environment_for(org, environment)
    return fs.client(target["project"], target["database"])


class PackageDeploy:
    """One deployment of one package into one target database."""

    def __init__(
        self,
        store: PackageStore,
        org: str,
        package: dict[str, Any],
        record: dict[str, Any],
        target: firestore.Client,
        options: dict[str, Any],
        checkpoint: Checkpoint | None = None,
    ):
        self.store = store
        self.org = org
        self.package = package
        self.record = record
        self.target = target
        self.options = options
        self.checkpoint = checkpoint
        self.is_db = package["package_type"] == codec.DATABASE
        self.fetch = store.fetcher(org, package["id"])
        self.group_size = min(options["transaction_size"], MAX_COMMIT_WRITES)
        self.read_size = max(1, min(options["batch_size"], 1000))
        self.dry = options["dry_run"]
        self.counts = {"processed": 0, "succeeded": 0, "skipped": 0, "failed": 0}
        self.errors: list[dict[str, Any]] = []
        self.mapping: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, set[str]] = {}
        self.int_max: dict[str, int | None] = {}
        self.next_int: dict[str, int] = {}
        self.column_values: dict[tuple[str, str], set[str]] = {}
        self.failed_keys: dict[str, set[str]] = {}
        self.planned: set[str] = set()
        self.known: dict[tuple[str, str], bool] = {}
        self.tables_processed = 0
        self.seq = 0
        self.aborted = False
        # target commits run behind the next group's reads and journal write (at most
        # COMMITS_IN_FLIGHT at once); reads of one group's slices run side by side
        self._pool = ThreadPoolExecutor(max_workers=READ_THREADS + COMMITS_IN_FLIGHT)
        self._in_flight: deque[Future] = deque()
        self._target_ids: dict[str, set[str] | None] = {}
        self._pending: list[Group] = []
        self._order: list[dict[str, Any]] = []
        self._scanned = False

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
                self._drain()
        except Superseded:
            raise
        except WriteRefused as exc:
            self.aborted = True
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(self._failure(exc.table, None, f"the target refused: {exc}"))
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
            self._pool.shutdown(wait=True)
        if self.aborted:
            return self._undo_and_fail(None, started)
        return self._finish("completed", started)

    def _drain(self) -> None:
        """Wait for every target commit in flight; raise the first failure."""
        first: BaseException | None = None
        while self._in_flight:
            try:
                self._refused(self._in_flight.popleft().result())
            except BaseException as exc:  # noqa: BLE001 - re-raised below after the rest ended
                first = first or exc
        if first is not None:
            raise first

    # -- passes ---------------------------------------------------------------------

    def _deploy(self) -> None:
        tables = self.package.get("tables", [])
        order = fk_order(tables) if self.is_db else list(tables)
        self._order = order
        for table in order:
            self.mapping.setdefault(table["name"], {})
            self.failed_keys.setdefault(table["name"], set())
        if self.is_db:
            position = {t["name"]: i for i, t in enumerate(order)}
            for index, table in enumerate(order):
                for fk in table.get("foreign_keys", []):
                    ref = fk["references"].split(".", 1)[0]
                    if ref in position and position[ref] >= index:
                        self.planned.add(ref)
            for table in order:
                if table["name"] in self.planned:
                    self._plan(table)
        for table in order:
            self._deploy_table(table)
            self.tables_processed += 1
            if self.aborted:
                return

    def _rows(self, table: dict[str, Any]):
        return codec.iter_records(table, self.fetch)

    def _ensure_scanned(self) -> None:
        """Read the package once for its keys, when a remap or a reference check needs them."""
        if not self._scanned:
            self._scanned = True
            self._scan(self._order)

    def _scan(self, order: list[dict[str, Any]]) -> None:
        """Package keys of every table, integer key maxima and referenced column values."""
        wanted: dict[str, set[str]] = {}
        for table in order:
            for fk in table.get("foreign_keys", []):
                ref_table, ref_column = fk["references"].split(".", 1)
                wanted.setdefault(ref_table, set()).add(ref_column)
        for table in order:
            name, pk = table["name"], table["primary_key"]
            keys: set[str] = set()
            maximum: int | None = None
            integers = True
            columns = {c: set() for c in wanted.get(name, ()) if c != pk}
            for row in self._rows(table):
                value = row.get(pk)
                keys.add(codec.key_text(value))
                if isinstance(value, int) and not isinstance(value, bool):
                    maximum = value if maximum is None else max(maximum, value)
                else:
                    integers = False
                for column, values in columns.items():
                    if row.get(column) is not None:
                        values.add(codec.canonical(row[column]))
            self.keys[name] = keys
            self.int_max[name] = maximum if integers and maximum is not None else None
            for column, values in columns.items():
                self.column_values[(name, column)] = values
            self.mapping.setdefault(name, {})
            self.failed_keys.setdefault(name, set())

    def _plan(self, table: dict[str, Any]) -> None:
        """Assign new keys for a table before any row refers to it (self/cyclic references)."""
        name, pk = table["name"], table["primary_key"]
        if self.options["skip_existing"] or self.options["update_existing"]:
            return
        for rows in _batches(self._rows(table), self.group_size):
            keys = [codec.key_text(r.get(pk)) for r in rows]
            existing = self._existing(name, keys)
            taken = [k for k in keys if k in existing]
            for old, new in zip(taken, self._new_keys(table, taken), strict=False):
                self.mapping[name][old] = new

    def _deploy_table(self, table: dict[str, Any]) -> None:
        for rows in _batches(self._rows(table), self.group_size):
            group = self._prepare(table, rows)
            self.counts["processed"] += len(rows)
            self.counts["succeeded"] += group.succeeded
            self.counts["skipped"] += group.skipped
            self.counts["failed"] += len(group.failures)
            for failure in group.failures:
                if len(self.errors) < MAX_ERRORS_KEPT:
                    self.errors.append(failure)
                self.failed_keys.setdefault(table["name"], set()).add(failure["key"])
            if group.failures and not self.options["continue_on_error"]:
                self.aborted = True
                self._pending = []  # never journalled, never written
                return
            self._commit(group)
        self._flush()

    # -- one group ------------------------------------------------------------------

    def _prepare(self, table: dict[str, Any], rows: list[dict[str, Any]]) -> Group:
        name = table["name"]
        pk = table.get("primary_key") if self.is_db else None
        group = Group()
        skip, update = self.options["skip_existing"], self.options["update_existing"]
        originals = [codec.key_text(r.get(pk)) if self.is_db else r["id"] for r in rows]
        planned = name in self.planned
        finals = [self.mapping[name].get(k, k) if planned else k for k in originals]
        final_texts = [
            codec.key_text(f) if planned and k in self.mapping[name] else k
            for k, f in zip(originals, finals, strict=False)
        ]
        existing = self._existing(name, final_texts, keep_data=True)
        pending: list[tuple[dict[str, Any], str, str, Any, bool]] = []
        remap: list[int] = []
        for row, original, key in zip(rows, originals, final_texts, strict=False):
            exists = key in existing
            if exists and skip:
                group.skipped += 1
                continue
            if exists and not update:
                if not self.is_db:
                    group.failures.append(
                        self._failure(
                            name,
                            original,
                            f"document {name}/{original} already exists in the target",
                        )
                    )
                    continue
                remap.append(len(pending))
            before = existing.get(key) if exists else None
            pending.append((row, original, key, before, exists and update))
        if remap:
            new_keys = self._new_keys(table, [pending[i][1] for i in remap])
            for position, new in zip(remap, new_keys, strict=False):
                row, original, _, _, _ = pending[position]
                self.mapping[name][original] = new
                pending[position] = (row, original, codec.key_text(new), None, False)
        parents: list[Write] = []
        for row, original, key, before, merge in pending:
            if self.is_db:
                data = dict(row)
                if original in self.mapping[name]:
                    data[pk] = self.mapping[name][original]
                problem = self._references(table, data, parents)
                if problem:
                    group.failures.append(self._failure(name, original, problem))
                    continue
            else:
                data = row["data"]
            group.writes.append(Write(name, key, data, merge, before, original))
            group.succeeded += 1
        group.writes = parents + group.writes
        return group

    def _failure(self, table: str, key: str, error: str) -> dict[str, Any]:
        return {"table": table, "key": key, "error": error}

    def _references(
        self, table: dict[str, Any], data: dict[str, Any], parents: list[Write]
    ) -> str | None:
        """Rewrite remapped foreign keys; validate or create missing parents. A reason or None."""
        validate = self.options["validate_references"]
        create = self.options["create_missing"]
        for fk in table.get("foreign_keys", []):
            column = fk["column"]
            value = data.get(column)
            if value is None:
                continue
            ref_table, ref_column = fk["references"].split(".", 1)
            spec = next((t for t in self.package["tables"] if t["name"] == ref_table), None)
            is_pk = spec is not None and spec["primary_key"] == ref_column
            text = codec.key_text(value)
            if is_pk and text in self.mapping.get(ref_table, {}):
                value = self.mapping[ref_table][text]
                data[column] = value
            if not (validate or create):
                continue
            if spec is not None and self._in_package(ref_table, ref_column, is_pk, text, value):
                continue
            if self._in_target(ref_table, ref_column, value, spec is None or is_pk):
                continue
            if create:
                key = codec.key_text(value)
                known = (ref_table, key)
                if not self.known.get(known):
                    parents.append(Write(ref_table, key, {ref_column: value}, False, None))
                    self._remember(known, True)
                continue
            return (
                f"column {column}: value {codec.canonical(value)} does not match any "
                f"{ref_table}.{ref_column}"
            )
        return None

    def _in_package(self, table: str, column: str, is_pk: bool, text: str, value: Any) -> bool:
        self._ensure_scanned()
        if is_pk:
            return text in self.keys.get(table, set()) and text not in self.failed_keys.get(
                table, set()
            )
        return codec.canonical(value) in self.column_values.get((table, column), set())

    def _in_target(self, table: str, column: str, value: Any, by_key: bool) -> bool:
        if by_key:
            key = codec.key_text(value)
            return key in self._existing(table, [key])
        marker = (f"{table}#{column}", codec.canonical(value))
        if marker not in self.known:
            query = (
                self.target.collection(table)
                .where(filter=FieldFilter(column, "==", codec.decode_value(value, self.target)))
                .limit(1)
            )
            self._remember(marker, any(True for _ in query.stream()))
        return self.known[marker]

    def _remember(self, key: tuple[str, str], exists: bool) -> None:
        if len(self.known) > MAX_CACHE:
            self.known.clear()
        self.known[key] = exists
        ids = self._target_ids.get(key[0])
        if exists and ids is not None:
            ids.add(key[1])

    def _ids(self, collection: str) -> set[str] | None:
        """The document ids of a target collection (listed once), None when it is too big."""
        if collection not in self._target_ids:
            query = self.target.collection(collection).select([]).limit(ID_LIST_LIMIT + 1)
            ids = {snap.id for snap in query.stream()}
            self._target_ids[collection] = ids if len(ids) <= ID_LIST_LIMIT else None
        return self._target_ids[collection]

    def _existing(
        self, collection: str, keys: list[str], keep_data: bool = False
    ) -> dict[str, Any]:
        """{key: True, or the encoded data with keep_data} of the keys present in the target.

        Read with get_all in batch_size slices; without keep_data, known answers are reused.
        """
        todo = list(dict.fromkeys(keys))
        ids = self._ids(collection)
        if ids is not None:
            present = [k for k in todo if k in ids]
            if not keep_data:
                return dict.fromkeys(present, True)
            todo = present
        elif not keep_data:
            todo = [k for k in todo if (collection, k) not in self.known]
        found: dict[str, Any] = {}
        coll = self.target.collection(collection)
        slices = [
            [coll.document(k) for k in todo[start : start + self.read_size]]
            for start in range(0, len(todo), self.read_size)
        ]
        if len(slices) > 1:
            results = list(self._pool.map(lambda refs: list(self.target.get_all(refs)), slices))
        else:
            results = [list(self.target.get_all(refs)) for refs in slices]
        for refs, snaps in zip(slices, results, strict=True):
            present = set()
            for snap in snaps:
                if snap.exists:
                    present.add(snap.id)
                    found[snap.id] = codec.encode_value(snap.to_dict()) if keep_data else True
            for ref in refs:
                self._remember((collection, ref.id), ref.id in present)
        if not keep_data:
            for key in keys:
                if self.known.get((collection, key)):
                    found[key] = True
        return found

    def _new_keys(self, table: dict[str, Any], originals: list[str]) -> list[Any]:
        """Keys unused in the target and in the package, one per original key."""
        self._ensure_scanned()
        name, pk = table["name"], table["primary_key"]
        result: list[Any] = []
        queue = deque(originals)
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), 500))]
            if self.int_max.get(name) is not None:
                if name not in self.next_int:
                    self.next_int[name] = max(self.int_max[name], self._target_max(name, pk)) + 1
                candidates: list[Any] = list(
                    range(self.next_int[name], self.next_int[name] + len(batch))
                )
                self.next_int[name] += len(batch)
            else:
                candidates = [f"{o}-{uuid.uuid4().hex[:8]}" for o in batch]
            texts = [codec.key_text(c) for c in candidates]
            taken = self._existing(name, texts)
            for original, candidate, text in zip(batch, candidates, texts, strict=False):
                if text in taken or text in self.keys.get(name, set()):
                    queue.append(original)
                else:
                    result.append((original, candidate))
                    self._remember((name, text), True)
        order = {o: i for i, o in enumerate(originals)}
        return [c for _, c in sorted(result, key=lambda pair: order[pair[0]])]

    def _target_max(self, collection: str, pk: str) -> int:
        query = (
            self.target.collection(collection)
            .where(filter=FieldFilter(pk, ">=", -(2**63)))
            .order_by(pk, direction=firestore.Query.DESCENDING)
            .limit(1)
        )
        for snap in query.stream():
            value = snap.get(pk)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        return 0

    def _commit(self, group: Group) -> None:
        for write in group.writes:
            self._remember((write.collection, write.key), True)
        if self.dry or not group.writes:
            if not self.dry and self.checkpoint is not None and not self._pending:
                self._progress([], journal=False)
            return
        # groups are journalled in sets (one control-plane commit per JOURNAL_GROUPS
        # target commits), then their target commits are queued behind each other
        self._pending.append(group)
        if len(self._pending) >= JOURNAL_GROUPS:
            self._flush()

    def _flush(self) -> None:
        groups, self._pending = self._pending, []
        if not groups:
            return
        self._progress([w for g in groups for w in g.writes], journal=True)
        for group in groups:
            while len(self._in_flight) >= COMMITS_IN_FLIGHT:
                self._refused(self._in_flight.popleft().result())
            self._in_flight.append(self._pool.submit(self._write_target, group.writes))

    def _write_target(self, writes: list[Write]) -> list[tuple[Write, str]]:
        """Commit the writes; the ones the target refused, with why (continue_on_error).

        Without continue_on_error a refused commit raises WriteRefused (the deploy is
        undone). With it, a refused commit is retried one document at a time, so every
        document the target takes is written and only the refused ones are reported.
        """
        from google.api_core import exceptions as gexc

        refused: list[tuple[Write, str]] = []
        for start in range(0, len(writes), MAX_COMMIT_WRITES):
            part = writes[start : start + MAX_COMMIT_WRITES]
            try:
                self._set_all(part)
            except (gexc.InvalidArgument, ValueError, TypeError) as exc:
                if not self.options["continue_on_error"]:
                    raise WriteRefused(part[0].collection, str(exc)) from None
                for write in part:
                    try:
                        self._set_all([write])
                    except (gexc.InvalidArgument, ValueError, TypeError) as one:
                        refused.append((write, str(one)))
        return refused

    def _set_all(self, writes: list[Write]) -> None:
        batch = self.target.batch()
        for write in writes:
            ref = self.target.collection(write.collection).document(write.key)
            batch.set(ref, codec.decode_value(write.data, self.target), merge=write.merge)
        batch.commit()

    def _refused(self, refused: list[tuple[Write, str]]) -> None:
        """Count documents the target refused (continue_on_error) as failed records."""
        for write, reason in refused:
            key = write.record if write.record is not None else write.key
            if write.record is not None:
                self.counts["succeeded"] -= 1
                self.counts["failed"] += 1
                self.failed_keys.setdefault(write.collection, set()).add(key)
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(
                    self._failure(write.collection, key, f"the target refused it: {reason}")
                )

    def _progress(self, writes: list[Write], journal: bool) -> None:
        """Journal the before-images and record progress, in one control-plane commit.

        The job's part of the commit holds only if the job is as the checkpoint read it;
        when it changed in between (a cancel request), the checkpoint looks again."""
        from google.api_core import exceptions as gexc

        entries = [[w.collection, w.key, w.before] for w in writes] if journal else None
        for _ in range(PROGRESS_TRIES - 1):
            try:
                return self._commit_progress(entries)
            except gexc.FailedPrecondition:
                continue
        self._commit_progress(entries)

    def _commit_progress(self, entries: list[list[Any]] | None) -> None:
        batch = self.store.db.batch()
        if self.checkpoint is not None:
            self.checkpoint(batch)
        if entries is not None:
            for ref, doc in self.store.journal_writes(
                self.org, self.record["id"], self.seq, entries
            ):
                batch.set(ref, doc)
        batch.update(
            self.store.deployment_ref(self.org, self.record["id"]),
            {
                "progress_at": clock.now_text(),
                "records_processed": self.counts["processed"],
                "records_succeeded": self.counts["succeeded"],
                "records_skipped": self.counts["skipped"],
                "records_failed": self.counts["failed"],
            },
        )
        batch.commit()
        if entries is not None:
            self.seq += 1

    # -- endings --------------------------------------------------------------------

    def _report(self) -> dict[str, Any]:
        return {
            "records_processed": self.counts["processed"],
            "records_succeeded": self.counts["succeeded"],
            "records_skipped": self.counts["skipped"],
            "records_failed": self.counts["failed"],
            "tables_processed": self.tables_processed,
            "errors": self.errors,
            "pk_mapping_result": {
                table: {old: codec.key_text(new) for old, new in mapping.items()}
                for table, mapping in self.mapping.items()
                if mapping
            },
        }

    def _finish(self, status: str, started: float, error: str | None = None) -> dict[str, Any]:
        now = clock.now_text()
        self.record.update(self._report())
        self.record.update(
            {
                "status": status,
                "is_active": status == "completed" and not self.dry,
                "completed_at": now,
                "progress_at": now,
                "deployed_at": now if status == "completed" else None,
            }
        )
        if error:
            self.record["error"] = error
        self.store.save_deployment(self.org, self.record)
        self._action(status, started, error)
        return self.record

    def _action(self, status: str, started: float, error: str | None) -> None:
        self.store.add_action(
            self.org,
            self.package["id"],
            action_record(
                "deploy",
                status="completed" if status == "completed" else "failed",
                started=started,
                started_at=self.record.get("started_at"),
                actor=self.record.get("deployed_by"),
                source=self.package.get("environment"),
                target=self.record["environment"],
                processed=self.counts["processed"],
                succeeded=self.counts["succeeded"] if status == "completed" else 0,
                failed=self.counts["failed"],
                tables=self.tables_processed,
                deployment_id=self.record["id"],
                dry_run=self.dry,
                error=error,
            ),
        )

    def _undo_and_fail(
        self, error: str | None, started: float, action: bool = True
    ) -> dict[str, Any]:
        if not self.dry:
            self.store.update_deployment(
                self.org, self.record["id"], {"status": "undoing", "progress_at": clock.now_text()}
            )
            undo(self.store, self.org, self.record["id"], self.target)
        if error is None:
            failing = len(self.errors)
            error = (
                f"{failing} record(s) failed; nothing was written to {self.record['environment']}"
                if not self.dry
                else f"{failing} record(s) would fail"
            )
        if not action:
            self.record.update(self._report())
            self.record.update(
                {
                    "status": "failed",
                    "is_active": False,
                    "error": error,
                    "completed_at": clock.now_text(),
                }
            )
            self.store.save_deployment(self.org, self.record)
            return self.record
        return self._finish("failed", started, error)


def undo(store: PackageStore, org: str, deployment_id: str, target: firestore.Client) -> int:
    """Restore every document in the deployment's journal to its before-image (created ones
    deleted), newest first; then clear the journal. Idempotent. Returns documents restored."""
    restored = 0
    batch, pending = target.batch(), 0
    for entries in store.iter_journal_reversed(org, deployment_id):
        for collection, key, before in reversed(entries):
            ref = target.collection(collection).document(key)
            if before is None:
                batch.delete(ref)
            else:
                batch.set(ref, codec.decode_value(before, target))
            pending += 1
            restored += 1
            if pending == MAX_COMMIT_WRITES:
                batch.commit()
                batch, pending = target.batch(), 0
    if pending:
        batch.commit()
    store.clear_journal(org, deployment_id)
    return restored


def _batches(items, size: int):
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
