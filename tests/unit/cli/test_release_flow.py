"""The release steps against scripted answers: approval waits, a held canary, timeouts."""

from __future__ import annotations

import pytest

from cli.flow import Release, ReleaseFailed, Watcher


class Scripted:
    """A client whose GETs answer from a script, one answer per call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, path: str, **kwargs):
        self.calls.append((method, path))
        return self.answers.pop(0)


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Recorder(Watcher):
    def __init__(self):
        self.events: list[str] = []

    def check(self, canary, check):
        self.events.append(f"check {check['number']}")

    def canary_status(self, canary):
        self.events.append(canary["status"])


def release(deployments=None, canary=None, watcher=None):
    clock = Clock()
    return Release(
        deployments or Scripted(),
        lambda: canary,
        watcher=watcher,
        sleep=clock.sleep,
        clock=clock,
    ), clock


def test_approval_wait_ends_when_approved_and_times_out_when_nobody_decides():
    pending = {"id": "d", "status": "scheduled", "approval_status": "pending"}
    flow, clock = release(Scripted(pending, pending, {**pending, "approval_status": "approved"}))
    assert flow.wait_for_approval("d", timeout=60, interval=10)["approval_status"] == "approved"
    assert clock.now == 20

    flow, clock = release(Scripted(*[pending] * 10))
    with pytest.raises(ReleaseFailed) as failed:
        flow.wait_for_approval("d", timeout=25, interval=10)
    assert failed.value.status == "pending" and "not approved within" in failed.value.reason


def test_a_superseded_deployment_stops_the_wait():
    skipped = {"id": "d", "status": "skipped", "approval_status": "pending", "notes": "by e"}
    flow, _ = release(Scripted(skipped))
    with pytest.raises(ReleaseFailed, match="deployment d is skipped: by e"):
        flow.wait_for_approval("d", timeout=60, interval=1)


def test_a_held_canary_is_followed_until_a_person_ends_it():
    check = {"number": 1}
    held = {"id": "c", "status": "held", "reason": "no data", "checks": [check]}
    recorder = Recorder()
    flow, _ = release(
        canary=Scripted(held, held, {**held, "status": "promoted", "checks": [check]}),
        watcher=recorder,
    )
    assert flow.follow_canary("c", interval=5, timeout=60)["status"] == "promoted"
    assert recorder.events == ["check 1", "held", "promoted"]

    flow, _ = release(canary=Scripted(*[held] * 10))
    with pytest.raises(ReleaseFailed, match="still held after 0.5 minutes: no data"):
        flow.follow_canary("c", interval=10, timeout=30)
