"""What one delivery of a job came to: a domain outcome the worker function maps to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    ran = "ran"  # this delivery ran the job (it may have ended completed, failed or cancelled)
    done = "done"  # nothing to do: finished, held by this same attempt, or not due
    busy = "busy"  # an earlier attempt still runs it: deliver again later
    retry = "retry"  # it failed this time and will be retried: deliver again
    unknown = "unknown"  # no such job


@dataclass(frozen=True)
class JobOutcome:
    """The outcome, the job's status after it (when there is one) and why, in one line."""

    outcome: Outcome
    status: str | None = None
    reason: str | None = None
