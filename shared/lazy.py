"""Values made on first use: the one way this code builds process-wide clients and services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Lazy:
    """Values made on first use (so their library is imported only then), once, by whichever
    thread asks first: `lazy()` returns `make()`, `lazy(*args)` returns `make(*args)` made
    once per `key(*args)` (default: the arguments). The one way this code builds
    process-wide clients and services."""

    def __init__(self, make: Callable[..., Any], key: Callable[..., Any] | None = None):
        self._make = make
        self._key = key
        self._values: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        key = self._key(*args) if self._key is not None else args
        with self._lock:
            if key not in self._values:
                self._values[key] = self._make(*args)
            return self._values[key]
