"""How a job's handler ends other than with a result: the runner turns each into a job status."""

from __future__ import annotations

from typing import Any


class JobFailed(Exception):
    """The job ran and failed for a reason retrying cannot fix (the job ends `failed`)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None):
        super().__init__(message)
        self.result = result


class JobCancelled(Exception):
    """The job was cancelled while it ran; what it wrote has been undone (ends `cancelled`)."""


class Superseded(Exception):
    """Another attempt (or the sweep) owns the job now: stop without touching anything."""
