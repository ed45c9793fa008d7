"""The package-deployment status machine, every pair walked."""

from __future__ import annotations

import itertools

import pytest

from shared.errors import Conflict
from shared.models.package import DEPLOYMENT_TRANSITIONS, DeploymentStatus, deployment_move

S = DeploymentStatus
ALLOWED = {
    (S.running, S.completed),
    (S.running, S.failed),
    (S.running, S.undoing),
    (S.undoing, S.failed),
    (S.undoing, S.rolled_back),
    (S.undoing, S.running),
    (S.completed, S.undoing),
    (S.failed, S.running),
    (S.awaiting_approval, S.running),
    (S.awaiting_approval, S.rejected),
    (S.awaiting_approval, S.failed),
}


@pytest.mark.parametrize("current, target", list(itertools.product(S, S)))
def test_every_pair(current, target):
    if current == target or (current, target) in ALLOWED:
        assert deployment_move("d", current.value, target) == target.value
    else:
        with pytest.raises(Conflict, match=f"is {current.value}; it cannot become"):
            deployment_move("d", current.value, target)


def test_rolled_back_is_final():
    assert DEPLOYMENT_TRANSITIONS[S.rolled_back] == frozenset()


def test_rejected_is_final():
    assert DEPLOYMENT_TRANSITIONS[S.rejected] == frozenset()
