"""Google API clients: Google's endpoint with Application Default Credentials, or the local fake.

An endpoint variable set to `host:port` (TASKS_EMULATOR_HOST, CLOUD_RUN_API_ENDPOINT,
MONITORING_API_ENDPOINT) means a plaintext gRPC channel to that address, no credentials.
"""

from __future__ import annotations

from typing import Any

from shared.lazy import Lazy

__all__ = ["Lazy", "google_client", "plaintext_channel"]


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
