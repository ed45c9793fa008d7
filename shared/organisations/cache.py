"""The in-process cache of organisation records: each kept at most `CACHE_SECONDS`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from shared import logs

CACHE_SECONDS = 30.0
CACHE_SIZE = 10_000
REPORT_EVERY = 10_000
log = logs.get("organisations")


@dataclass
class CacheStats:
    """Lookups of the record cache; logged every REPORT_EVERY lookups."""

    hits: int = 0
    misses: int = 0

    def count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        lookups = self.hits + self.misses
        if lookups % REPORT_EVERY == 0:
            log.info(
                "organisation record cache: %d lookups, hit rate %.4f",
                lookups,
                self.hits / lookups,
            )


class RecordCache:
    """Records by organisation for at most `ttl` seconds (absent ones as their empty form)."""

    def __init__(self, ttl: float = CACHE_SECONDS, size: int = CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self.stats = CacheStats()
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, org: str) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            item = self._items.get(org)
            if item is None or item[0] < time.monotonic():
                self.stats.count(hit=False)
                return False, None
            self.stats.count(hit=True)
            return True, item[1]

    def put(self, org: str, record: dict[str, Any]) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] >= now}
                if len(self._items) >= self.size:
                    self._items.pop(next(iter(self._items)))
            self._items[org] = (time.monotonic() + self.ttl, record)

    def forget(self, org: str) -> None:
        with self._lock:
            self._items.pop(org, None)
