"""Pieces shared by the fakes: the error type, time conversion and scripted failures."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict, deque
from typing import Any

import grpc

UTC = dt.UTC


class ApiError(Exception):
    """A gRPC status the fake answers instead of a response."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def status_code(code: Any) -> grpc.StatusCode:
    """Turn a StatusCode, its name ("ABORTED") or its number into a grpc.StatusCode."""
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, str):
        return grpc.StatusCode[code.upper()]
    for candidate in grpc.StatusCode:
        if candidate.value[0] == int(code):
            return candidate
    raise ValueError(f"unknown gRPC status code {code!r}")


def to_epoch(value: Any) -> float:
    """Seconds since the epoch from a datetime (naive means UTC) or a number."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def to_datetime(epoch: float) -> dt.datetime:
    """An aware UTC datetime from seconds since the epoch."""
    return dt.datetime.fromtimestamp(epoch, tz=UTC)


class FailurePlan:
    """Scripted gRPC failures per method: the next n calls, or every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, deque[grpc.StatusCode]] = defaultdict(deque)
        self._always: dict[str, grpc.StatusCode] = {}

    def fail_next(self, method: str, code: Any, n: int = 1) -> None:
        """Make the next n calls of method (None: any method) fail with code."""
        with self._lock:
            self._next[method or "*"].extend([status_code(code)] * n)

    def fail_all(self, method: str, code: Any | None) -> None:
        """Make every call of method (None: any method) fail with code; None clears."""
        with self._lock:
            if code is None:
                self._always.pop(method or "*", None)
            else:
                self._always[method or "*"] = status_code(code)

    def clear(self) -> None:
        """Forget every scripted failure."""
        with self._lock:
            self._next.clear()
            self._always.clear()

    def check(self, method: str) -> None:
        """Raise the scripted ApiError for this call of method, if any."""
        with self._lock:
            for key in (method, "*"):
                if key in self._always:
                    raise ApiError(self._always[key], f"injected failure of {method}")
                if self._next[key]:
                    code = self._next[key].popleft()
                    raise ApiError(code, f"injected failure of {method}")
