"""The rules of a stored job as a table: what a delivery does to the job it finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import clock
from shared.jobs import rules
from shared.jobs.rules import Claim
from shared.models.job import JobStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = 120


def job(status: str, delivery: int = 0, idle: float = 0.0) -> dict:
    return {
        "job_id": "j",
        "status": status,
        "delivery": delivery,
        "attempts": delivery,
        "progress_at": clock.to_text(NOW - timedelta(seconds=idle)),
    }


@pytest.mark.parametrize(
    "found, attempt, expected",
    [
        (job("queued"), 1, Claim.run),
        (job("pending"), None, Claim.run),
        (job("retry", delivery=1), 2, Claim.run),
        (job("processing", delivery=1), 1, Claim.skip),  # a duplicate of the holder
        (job("processing", delivery=1), None, Claim.skip),
        (job("processing", delivery=2), 1, Claim.skip),  # a late earlier attempt
        (job("processing", delivery=1, idle=LEASE - 1), 2, Claim.busy),  # the holder lives
        (job("processing", delivery=1, idle=LEASE), 2, Claim.takeover),  # the holder went silent
        (job("completed", delivery=1), 2, Claim.skip),
        (job("cancelled"), 1, Claim.skip),
        (job("timeout", delivery=1), 5, Claim.skip),
    ],
)
def test_claim(found, attempt, expected):
    changes, claim = rules.claim(found, attempt, NOW, LEASE)
    assert claim == expected
    if claim in (Claim.skip, Claim.busy):
        assert changes is None
    else:
        assert changes["delivery"] == (attempt or found["delivery"] + 1)
        assert changes["attempts"] == found["attempts"] + 1


def test_claim_depends_only_on_its_arguments():
    """A transaction's function may run twice: the same job read gives the same decision."""
    found = job("queued")
    first = rules.claim(dict(found), 1, NOW, LEASE)
    assert rules.claim(dict(found), 1, NOW, LEASE) == first
    assert found == job("queued")


def test_finish_only_by_the_holder():
    held = job("processing", delivery=2)
    assert rules.finish(held, 1, JobStatus.completed, {}) is None
    assert rules.finish(held, 2, JobStatus.completed, {})["status"] == "completed"
    assert rules.finish(job("timeout", delivery=2), 2, JobStatus.completed, {}) is None
