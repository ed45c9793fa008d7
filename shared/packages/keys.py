"""The package's keys and their new keys: what a remap and a reference check need to know."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from shared.packages import codec
from shared.packages.target import TargetIndex


class PackageKeys:
    """Keys of every table of the package (read once, when first needed), the new key of
    every remapped row, and the keys of rows that failed."""

    def __init__(self, tables, rows: Callable[[dict[str, Any]], Any], target: TargetIndex):
        self.tables = tables
        self.rows = rows
        self.target = target
        self.mapping: dict[str, dict[str, Any]] = {t["name"]: {} for t in tables}
        self.failed: dict[str, set[str]] = {t["name"]: set() for t in tables}
        self.keys: dict[str, set[str]] = {}
        self.int_max: dict[str, int | None] = {}
        self.next_int: dict[str, int] = {}
        self.column_values: dict[tuple[str, str], set[str]] = {}
        self._scanned = False

    def scan(self) -> None:
        """Package keys of every table, integer key maxima and referenced column values."""
        if self._scanned:
            return
        self._scanned = True
        wanted: dict[str, set[str]] = {}
        for table in self.tables:
            for fk in table.get("foreign_keys", []):
                ref_table, ref_column = fk["references"].split(".", 1)
                wanted.setdefault(ref_table, set()).add(ref_column)
        for table in self.tables:
            self._scan_table(table, wanted.get(table["name"], ()))

    def _scan_table(self, table: dict[str, Any], wanted) -> None:
        name, pk = table["name"], table["primary_key"]
        keys: set[str] = set()
        maximum: int | None = None
        integers = True
        columns: dict[str, set[str]] = {c: set() for c in wanted if c != pk}
        for row in self.rows(table):
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

    def in_package(self, table: str, column: str, is_pk: bool, text: str, value: Any) -> bool:
        """Whether a row of the package (that did not fail) holds `value` in `column`."""
        self.scan()
        if is_pk:
            return text in self.keys.get(table, set()) and text not in self.failed.get(table, set())
        return codec.canonical(value) in self.column_values.get((table, column), set())

    def new_keys(self, table: dict[str, Any], originals: list[str]) -> list[Any]:
        """Keys unused in the target and in the package, one per original key."""
        self.scan()
        name = table["name"]
        result: list[Any] = []
        queue = deque(originals)
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), 500))]
            candidates = self._candidates(table, batch)
            texts = [codec.key_text(c) for c in candidates]
            taken = self.target.existing(name, texts)
            for original, candidate, text in zip(batch, candidates, texts, strict=False):
                if text in taken or text in self.keys.get(name, set()):
                    queue.append(original)
                else:
                    result.append((original, candidate))
                    self.target.remember((name, text), True)
        order = {o: i for i, o in enumerate(originals)}
        return [c for _, c in sorted(result, key=lambda pair: order[pair[0]])]

    def _candidates(self, table: dict[str, Any], batch: list[str]) -> list[Any]:
        """Integers past every key in use (integer keys), else the old key with a suffix."""
        name = table["name"]
        if self.int_max.get(name) is None:
            return [f"{o}-{uuid.uuid4().hex[:8]}" for o in batch]
        if name not in self.next_int:
            in_target = self.target.max_key(name, table["primary_key"])
            self.next_int[name] = max(self.int_max[name], in_target) + 1
        start = self.next_int[name]
        self.next_int[name] += len(batch)
        return list(range(start, start + len(batch)))

    def report(self) -> dict[str, dict[str, str]]:
        """`pk_mapping_result`: {table: {old key: new key}} of the tables with remapped rows."""
        return {
            table: {old: codec.key_text(new) for old, new in mapping.items()}
            for table, mapping in self.mapping.items()
            if mapping
        }
