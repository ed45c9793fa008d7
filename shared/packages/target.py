"""What a deploy knows of its target database: which documents exist, each read once."""

from __future__ import annotations

from typing import Any

from shared.packages import codec
from shared.store.environment import EnvironmentDatabase

MAX_CACHE = 200_000
# A target collection with at most this many documents has its ids listed once (keys only),
# so existence needs no read per record; larger ones are read per group with get_all.
ID_LIST_LIMIT = 100_000


class TargetIndex:
    """Existence of target documents (and of referenced values), cached for one deploy."""

    def __init__(self, target: EnvironmentDatabase, read_size: int, pool):
        self.target = target
        self.read_size = read_size
        self.pool = pool  # reads of one group's slices run side by side
        self.known: dict[tuple[str, str], bool] = {}
        self._ids: dict[str, set[str] | None] = {}

    def remember(self, key: tuple[str, str], exists: bool) -> None:
        if len(self.known) > MAX_CACHE:
            self.known.clear()
        self.known[key] = exists
        ids = self._ids.get(key[0])
        if exists and ids is not None:
            ids.add(key[1])

    def ids(self, collection: str) -> set[str] | None:
        """The document ids of a target collection (listed once), None when it is too big."""
        if collection not in self._ids:
            self._ids[collection] = self.target.ids(collection, ID_LIST_LIMIT)
        return self._ids[collection]

    def existing(self, collection: str, keys: list[str], keep_data: bool = False) -> dict[str, Any]:
        """{key: True, or the encoded data with keep_data} of the keys present in the target.

        Read with get_all in read_size slices; without keep_data, known answers are reused.
        """
        todo = list(dict.fromkeys(keys))
        ids = self.ids(collection)
        if ids is not None:
            present = [k for k in todo if k in ids]
            if not keep_data:
                return dict.fromkeys(present, True)
            todo = present
        elif not keep_data:
            todo = [k for k in todo if (collection, k) not in self.known]
        found = self._read(collection, todo, keep_data)
        if not keep_data:
            for key in keys:
                if self.known.get((collection, key)):
                    found[key] = True
        return found

    def _read(self, collection: str, todo: list[str], keep_data: bool) -> dict[str, Any]:
        found: dict[str, Any] = {}
        slices = [
            todo[start : start + self.read_size] for start in range(0, len(todo), self.read_size)
        ]
        if len(slices) > 1:
            results = list(
                self.pool.map(lambda keys: self.target.get_many(collection, keys), slices)
            )
        else:
            results = [self.target.get_many(collection, keys) for keys in slices]
        for keys, present in zip(slices, results, strict=True):
            for key, data in present.items():
                found[key] = codec.encode_value(data) if keep_data else True
            for key in keys:
                self.remember((collection, key), key in present)
        return found

    def has_value(self, table: str, column: str, value: Any, by_key: bool) -> bool:
        """Whether a document of `table` has `value` in `column` (its id when `by_key`)."""
        if by_key:
            key = codec.key_text(value)
            return key in self.existing(table, [key])
        marker = (f"{table}#{column}", codec.canonical(value))
        if marker not in self.known:
            decoded = codec.decode_value(value, self.target.client)
            self.remember(marker, self.target.has_value(table, column, decoded))
        return self.known[marker]

    def max_key(self, collection: str, pk: str) -> int:
        """The largest integer primary key of a target collection (0 when none)."""
        return self.target.max_number(collection, pk)
