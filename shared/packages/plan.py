"""What one deploy will do, fixed before it starts: the options and the order of the tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.packages import codec

MAX_COMMIT_WRITES = 500


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


def forward_references(order: list[dict[str, Any]]) -> frozenset[str]:
    """Tables referred to by themselves or by a table deployed before them: their new keys
    must be chosen before any row refers to them."""
    position = {t["name"]: i for i, t in enumerate(order)}
    planned = set()
    for index, table in enumerate(order):
        for fk in table.get("foreign_keys", []):
            ref = fk["references"].split(".", 1)[0]
            if ref in position and position[ref] >= index:
                planned.add(ref)
    return frozenset(planned)


@dataclass(frozen=True)
class DeployPlan:
    """The deploy options (shared.models.package.DeployOptions) and the package's tables in
    deploy order."""

    skip_existing: bool
    update_existing: bool
    validate_references: bool
    create_missing: bool
    continue_on_error: bool
    dry_run: bool
    group_size: int  # records per target commit (and per journal entry)
    read_size: int  # documents per get_all of the target
    is_db: bool
    tables: tuple[dict[str, Any], ...]
    planned: frozenset[str]  # tables whose new keys are chosen before the deploy

    @classmethod
    def of(cls, package: dict[str, Any], options: dict[str, Any]) -> DeployPlan:
        is_db = package["package_type"] == codec.DATABASE
        tables = package.get("tables", [])
        order = fk_order(tables) if is_db else list(tables)
        return cls(
            skip_existing=options["skip_existing"],
            update_existing=options["update_existing"],
            validate_references=options["validate_references"],
            create_missing=options["create_missing"],
            continue_on_error=options["continue_on_error"],
            dry_run=options["dry_run"],
            group_size=min(options["transaction_size"], MAX_COMMIT_WRITES),
            read_size=max(1, min(options["batch_size"], 1000)),
            is_db=is_db,
            tables=tuple(order),
            planned=forward_references(order) if is_db else frozenset(),
        )

    def table(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tables if t["name"] == name), None)


def batches(items, size: int):
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
