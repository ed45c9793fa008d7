"""A weekly freeze window in Europe/Paris over the week clocks go forward (29 March 2026)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import Conflict
from shared.governance.approvals import Approvals
from shared.models.principal import Principal

WINDOW = {
    "name": "friday-evening",
    "days": ["fri", "sun"],
    "start_time": "18:00",
    "end_time": "24:00",
    "time_zone": "Europe/Paris",
}


class Policies:
    def get(self, org, environment, transaction=None):
        return {"freeze_windows": [WINDOW], "requires_approval": False}


def approvals_at(moment: datetime) -> Approvals:
    return Approvals(Policies(), None, None, now=lambda: moment)


DEPLOYER = Principal("google", "d@example.com", "acme", "deployer", actor="d@example.com")
ADMIN = Principal("google", "a@example.com", "acme", "admin", actor="a@example.com")


@pytest.mark.parametrize(
    "moment, frozen",
    [
        (datetime(2026, 3, 27, 16, 59, tzinfo=UTC), False),  # 17:59 CET
        (datetime(2026, 3, 27, 17, 0, tzinfo=UTC), True),  # 18:00 CET
        (datetime(2026, 3, 29, 15, 59, tzinfo=UTC), False),  # 17:59 CEST, after the change
        (datetime(2026, 3, 29, 16, 0, tzinfo=UTC), True),  # 18:00 CEST
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), True),  # 23:59 CEST
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), False),  # Monday 00:00 CEST
    ],
)
def test_window_follows_local_time_over_the_change(moment, frozen):
    approvals = approvals_at(moment)
    if frozen:
        with pytest.raises(Conflict) as caught:
            approvals.check_freeze("acme", "production", DEPLOYER)
        assert caught.value.code == "freeze_window" and "friday-evening" in caught.value.message
        approvals.check_freeze("acme", "production", ADMIN, "incident 42")  # admin passes
        with pytest.raises(Conflict):
            approvals.check_freeze("acme", "production", DEPLOYER, "not an admin")
    else:
        approvals.check_freeze("acme", "production", DEPLOYER)
