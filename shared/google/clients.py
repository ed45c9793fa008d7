"""Google API clients: Google's endpoint with Application Default Credentials, or the local fake.

An endpoint variable set to `host:port` (TASKS_EMULATOR_HOST, CLOUD_RUN_API_ENDPOINT,
MONITORING_API_ENDPOINT) means a plaintext gRPC channel to that address, no credentials.
"""

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


def plaintext_channel(endpoint: str | None):
    """A plaintext channel to `endpoint`, or None for Google's endpoint."""
    if not endpoint:
        return None
    import grpc

    return grpc.insecure_channel(endpoint)


def google_client(client_cls: type, endpoint: str | None, channel: Any = None) -> Any:
    """`client_cls()` against Google, or over `channel` / a plaintext channel to `endpoint`."""
    channel = channel or plaintext_channel(endpoint)
    if channel is None:
        return client_cls()
    transport_cls = client_cls.get_transport_class("grpc")
    return client_cls(transport=transport_cls(channel=channel))
