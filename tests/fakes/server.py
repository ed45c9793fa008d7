"""One plaintext gRPC server for the Cloud Tasks, Cloud Run Admin v2 and Monitoring v3 fakes."""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import grpc

from tests.fakes.common import ApiError
from tests.fakes.monitoring import FakeMonitoring
from tests.fakes.run import FakeRun
from tests.fakes.tasks import FakeTasks


def _codec(message_type) -> tuple[Callable, Callable]:
    """(deserializer, serializer) for a proto-plus class or a raw protobuf class."""
    if hasattr(message_type, "pb") and hasattr(message_type, "deserialize"):
        return message_type.deserialize, message_type.serialize
    return message_type.FromString, message_type.SerializeToString


class FakeGoogleApis:
    """The fake Google APIs on 127.0.0.1: .tasks, .run, .monitoring, .calls."""

    def __init__(
        self,
        signer: Callable[[dict], str] | None = None,
        tag_url_template: str = "http://127.0.0.1:{port}/{tag}",
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        max_attempts: int = 5,
        dispatch_timeout: float = 30.0,
        max_workers: int = 16,
    ):
        self.tasks = FakeTasks(
            signer=signer,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            max_attempts=max_attempts,
            dispatch_timeout=dispatch_timeout,
        )
        self.run = FakeRun(tag_url_template=tag_url_template)
        self.monitoring = FakeMonitoring(run_state=self.run)
        self.calls: collections.Counter[str] = collections.Counter()
        self.address: str | None = None
        self.port: int | None = None
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:port (0 picks a free port); returns "127.0.0.1:<port>"."""
        if self._server is not None:
            return self.address
        server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="fake-google-apis"
            )
        )
        for component in (self.tasks, self.run, self.monitoring):
            for service, methods in component.rpc_methods().items():
                handlers = {
                    name: self._handler(service, name, *spec) for name, spec in methods.items()
                }
                server.add_generic_rpc_handlers(
                    (grpc.method_handlers_generic_handler(service, handlers),)
                )
        bound = server.add_insecure_port(f"127.0.0.1:{port}")
        if not bound:
            raise OSError(f"cannot bind 127.0.0.1:{port}")
        server.start()
        self._server, self.port = server, bound
        self.address = f"127.0.0.1:{bound}"
        self.run.port = bound
        self.tasks.start()
        return self.address

    def stop(self, grace: float | None = 0.5) -> None:
        """Stop dispatching tasks and serving RPCs."""
        self.tasks.stop()
        if self._server is not None:
            self._server.stop(grace).wait(5)
            self._server = None

    def reset(self) -> None:
        """Forget all state of the three fakes and the call counters."""
        self.tasks.reset()
        self.run.reset()
        self.monitoring.reset()
        self.reset_calls()

    def reset_calls(self) -> None:
        """Zero the call counters."""
        with self._lock:
            self.calls.clear()

    def __enter__(self) -> FakeGoogleApis:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _handler(self, service: str, method: str, fn: Callable, request_type, response_type):
        full_name = f"{service}/{method}"
        deserialize, _ = _codec(request_type)
        _, serialize = _codec(response_type)

        def handle(request, context: grpc.ServicerContext):
            with self._lock:
                self.calls[full_name] += 1
            try:
                return fn(request)
            except ApiError as err:
                context.abort(err.code, err.message)

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=deserialize, response_serializer=serialize
        )
