"""Environment policies and freeze windows: which moment is frozen, by which window, until when.

Pure functions of (policy, moment). Weekly windows are evaluated in their own time zone
with zoneinfo, so a window keeps its local wall-clock hours across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared import clock

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The policy of an environment nobody configured (PolicyBody's defaults; a unit test
# keeps the two equal, and the guard reads this without loading the models).
DEFAULT_POLICY: dict[str, Any] = {
    "requires_approval": False,
    "min_approvals": 1,
    "approver_role": "approver",
    "approvers": [],
    "prevent_self_approval": True,
    "freeze_windows": [],
}


def minutes(hhmm: str) -> int:
    """`HH:MM` -> minutes after midnight (`24:00` is 1440)."""
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


@dataclass(frozen=True)
class ActiveWindow:
    """A freeze window in force at some moment, and when it ends (UTC)."""

    name: str
    until: datetime


def with_defaults(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A stored policy (or None) as a complete policy."""
    policy = dict(DEFAULT_POLICY)
    policy.update({k: v for k, v in (stored or {}).items() if k in DEFAULT_POLICY})
    return policy


def active_window(windows: list[dict[str, Any]], moment: datetime) -> ActiveWindow | None:
    """The first freeze window in force at `moment` (aware), or None."""
    moment = moment.astimezone(UTC)
    for window in windows or []:
        found = _one_off(window, moment) if window.get("days") is None else _weekly(window, moment)
        if found is not None:
            return found
    return None


def _one_off(window: dict[str, Any], moment: datetime) -> ActiveWindow | None:
    start, end = clock.parse(window["start"]), clock.parse(window["end"])
    if start <= moment < end:
        return ActiveWindow(window["name"], end)
    return None


def _weekly(window: dict[str, Any], moment: datetime) -> ActiveWindow | None:
    zone = ZoneInfo(window.get("time_zone") or "UTC")
    local = moment.astimezone(zone)
    day = DAYS[local.weekday()]
    if day not in window["days"]:
        return None
    now_minutes = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
    start, end = minutes(window["start_time"]), minutes(window["end_time"])
    if not start <= now_minutes < end:
        return None
    return ActiveWindow(window["name"], _weekly_end(window, local, zone))


def _weekly_end(window: dict[str, Any], local: datetime, zone: ZoneInfo) -> datetime:
    """When the freeze that covers `local` lifts: follows on across adjoining days (sat+sun)."""
    date = local.date()
    end = minutes(window["end_time"])
    for _ in range(8):
        if end < 24 * 60:
            break
        next_date = date + timedelta(days=1)
        if DAYS[next_date.weekday()] not in window["days"] or minutes(window["start_time"]) != 0:
            date = next_date
            end = 0
            break
        date = next_date
    wall = datetime(date.year, date.month, date.day, tzinfo=zone) + timedelta(minutes=end)
    # Wall-clock arithmetic: rebuild the local time so the zone's offset on that day applies.
    wall = datetime(wall.year, wall.month, wall.day, wall.hour, wall.minute, tzinfo=zone)
    return wall.astimezone(UTC)


def freeze_message(environment: str, window: ActiveWindow) -> str:
    return (
        f"environment {environment} is frozen by the freeze window '{window.name}' until "
        f"{clock.to_text(window.until)}; an admin may pass it with override_reason"
    )
