"""The counts and errors of one deploy, as its report shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_KEPT = 1000


def failure(table: str, key: str | None, error: str) -> dict[str, Any]:
    return {"table": table, "key": key, "error": error}


@dataclass
class Tally:
    """processed = succeeded + skipped + failed; the first MAX_ERRORS_KEPT errors."""

    processed: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    tables_processed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, entry: dict[str, Any]) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(entry)

    def refused(self, table: str, key: str, reason: str, is_record: bool) -> None:
        """A document the target refused (continue_on_error): a package record fails."""
        if is_record:
            self.succeeded -= 1
            self.failed += 1
        self.error(failure(table, key, f"the target refused it: {reason}"))

    def progress(self) -> dict[str, int]:
        return {
            "records_processed": self.processed,
            "records_succeeded": self.succeeded,
            "records_skipped": self.skipped,
            "records_failed": self.failed,
        }

    def report(self, pk_mapping: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.progress(),
            "tables_processed": self.tables_processed,
            "errors": self.errors,
            "pk_mapping_result": pk_mapping,
        }
