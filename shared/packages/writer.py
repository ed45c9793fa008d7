"""Writing a deploy reversibly: the undo journal first, then the target, commits in flight.

Before each commit to the target, the previous value of every document it writes
(its before-image, or "absent") goes into the deployment's journal in the
control-plane database, in the same commit as the progress record. Undo replays
the journal newest first; it is idempotent, so a crash during undo is finished by
the next attempt or the sweep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from shared import clock
from shared.packages import codec
from shared.packages.plan import MAX_COMMIT_WRITES
from shared.store.environment import EnvironmentDatabase
from shared.store.packages import PackageStore

COMMITS_IN_FLIGHT = 3
JOURNAL_GROUPS = 4
# Commits of progress refused because the job changed meanwhile, before giving up.
PROGRESS_TRIES = 5
# checkpoint(batch): called before each journal commit; adds the job's progress to the
# batch, raises JobCancelled or Superseded.
Checkpoint = Callable[[Any], None]


class WriteRefused(Exception):
    """The target database refused a commit (an invalid document); the deploy fails."""

    def __init__(self, table: str, message: str):
        super().__init__(message)
        self.table = table


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


# What a target commit answers: the writes it refused, with why (continue_on_error).
Refused = list[tuple[Write, str]]


class JournalWriter:
    """Journals groups of writes (JOURNAL_GROUPS per control-plane commit), then commits them
    to the target behind each other (at most COMMITS_IN_FLIGHT at once)."""

    def __init__(self, store, org, deployment_id, target, pool, checkpoint, continue_on_error):
        self.store: PackageStore = store
        self.org = org
        self.deployment_id = deployment_id
        self.target: EnvironmentDatabase = target
        self.pool = pool
        self.checkpoint: Checkpoint | None = checkpoint
        self.continue_on_error = continue_on_error
        self.pending: list[Group] = []
        self.in_flight: deque[Future] = deque()
        self.seq = 0

    def add(self, group: Group, on_refused, progress: dict[str, int]) -> None:
        self.pending.append(group)
        if len(self.pending) >= JOURNAL_GROUPS:
            self.flush(on_refused, progress)

    def flush(self, on_refused: Callable[[Refused], None], progress: dict[str, int]) -> None:
        groups, self.pending = self.pending, []
        if not groups:
            return
        self.record_progress([w for g in groups for w in g.writes], progress)
        for group in groups:
            while len(self.in_flight) >= COMMITS_IN_FLIGHT:
                on_refused(self.in_flight.popleft().result())
            self.in_flight.append(self.pool.submit(self._write_target, group.writes))

    def drain(self, on_refused: Callable[[Refused], None]) -> None:
        """Wait for every target commit in flight; raise the first failure."""
        first: BaseException | None = None
        while self.in_flight:
            try:
                on_refused(self.in_flight.popleft().result())
            except BaseException as exc:  # noqa: BLE001 - re-raised below after the rest ended
                first = first or exc
        if first is not None:
            raise first

    def record_progress(self, writes: list[Write] | None, progress: dict[str, int]) -> None:
        """Journal the before-images (None: nothing to journal) and record progress, in one
        control-plane commit.

        The job's part of the commit holds only if the job is as the checkpoint read it;
        when it changed in between (a cancel request), the checkpoint looks again."""
        from google.api_core import exceptions as gexc

        entries = None if writes is None else [[w.collection, w.key, w.before] for w in writes]
        for _ in range(PROGRESS_TRIES - 1):
            try:
                return self._commit_progress(entries, progress)
            except gexc.FailedPrecondition:
                continue
        self._commit_progress(entries, progress)

    def _commit_progress(self, entries, progress: dict[str, int]) -> None:
        batch = self.store.db.batch()
        if self.checkpoint is not None:
            self.checkpoint(batch)
        if entries is not None:
            for ref, doc in self.store.journal_writes(
                self.org, self.deployment_id, self.seq, entries
            ):
                batch.set(ref, doc)
        batch.update(
            self.store.deployment_ref(self.org, self.deployment_id),
            {"progress_at": clock.now_text(), **progress},
        )
        batch.commit()
        if entries is not None:
            self.seq += 1

    def _write_target(self, writes: list[Write]) -> Refused:
        """Commit the writes; the ones the target refused, with why (continue_on_error).

        Without continue_on_error a refused commit raises WriteRefused (the deploy is
        undone). With it, a refused commit is retried one document at a time, so every
        document the target takes is written and only the refused ones are reported.
        """
        from google.api_core import exceptions as gexc

        from shared.refusals import invalid_write

        refused: Refused = []
        for start in range(0, len(writes), MAX_COMMIT_WRITES):
            part = writes[start : start + MAX_COMMIT_WRITES]
            try:
                self._set_all(part)
            except (gexc.InvalidArgument, ValueError, TypeError) as exc:
                if not self.continue_on_error:
                    raise WriteRefused(part[0].collection, invalid_write(exc)) from None
                for write in part:
                    try:
                        self._set_all([write])
                    except (gexc.InvalidArgument, ValueError, TypeError) as one:
                        refused.append((write, invalid_write(one)))
        return refused

    def _set_all(self, writes: list[Write]) -> None:
        client = self.target.client
        self.target.set_many(
            [(w.collection, w.key, codec.decode_value(w.data, client), w.merge) for w in writes]
        )


def undo(store: PackageStore, org: str, deployment_id: str, target: EnvironmentDatabase) -> int:
    """Restore every document in the deployment's journal to its before-image (created ones
    deleted), newest first; then clear the journal. Idempotent. Returns documents restored."""

    def documents():
        for entries in store.iter_journal_reversed(org, deployment_id):
            for collection, key, before in reversed(entries):
                data = None if before is None else codec.decode_value(before, target.client)
                yield collection, key, data

    restored = target.restore(documents())
    store.clear_journal(org, deployment_id)
    return restored
