"""Google API clients: Google's endpoint with Application Default Credentials, or the local fake.

An endpoint variable set to `host:port` (TASKS_EMULATOR_HOST, CLOUD_RUN_API_ENDPOINT,
MONITORING_API_ENDPOINT) means a plaintext gRPC channel to that address, no credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Lazy:
    """A value made on first use (so its library is imported only then), once, by whichever
    thread asks first; `lazy()` returns it."""

    def __init__(self, make: Callable[[], Any]):
        self._make = make
        self._value: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value


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
