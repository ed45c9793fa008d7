"""Structured JSON logs on stdout, the shape Cloud Logging groups by trace."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

_trace: ContextVar[str | None] = ContextVar("trace", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str | None = None):
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry = {"severity": record.levelname, "message": record.getMessage()}
        if not getattr(record, "exact", False):
            entry["logger"] = record.name
        trace = _trace.get()
        if trace and self.project:
            entry["logging.googleapis.com/trace"] = f"projects/{self.project}/traces/{trace}"
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(project: str | None = None) -> None:
    """Route the `deployq` loggers to stdout as JSON (idempotent)."""
    logger = logging.getLogger("deployq")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def set_trace(header: str | None) -> None:
    """Remember the trace id of `X-Cloud-Trace-Context: TRACE/SPAN;o=1` for this request."""
    _trace.set(header.split("/", 1)[0] if header else None)


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"deployq.{name}")


def exact(logger: logging.Logger, message: str, fields: dict) -> None:
    """One INFO line holding only `severity`, `message`, `fields` (and the trace when known):
    the shape a log-based metric's filter and extractors read."""
    logger.info(message, extra={"fields": fields, "exact": True})
