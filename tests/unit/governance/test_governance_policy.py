"""Freeze windows as pure functions of (windows, moment): one-off ranges, weekly windows, DST."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared import clock
from shared.models.policy import active_window, freeze_message, with_defaults
from shared.schemas.governance import PolicyBody

WEEKENDS_PARIS = {
    "name": "weekends",
    "days": ["sat", "sun"],
    "start_time": "00:00",
    "end_time": "24:00",
    "time_zone": "Europe/Paris",
}
OFFICE_NEW_YORK = {
    "name": "office-hours",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start_time": "09:00",
    "end_time": "17:00",
    "time_zone": "America/New_York",
}
NIGHT_OF_THE_CHANGE = {
    "name": "night",
    "days": ["sun"],
    "start_time": "01:00",
    "end_time": "04:00",
    "time_zone": "Europe/Paris",
}
YEAR_END = {
    "name": "year-end",
    "start": "2026-12-20T00:00:00+01:00",
    "end": "2027-01-04T00:00:00+01:00",
}


def frozen(window, moment):
    found = active_window([window], clock.parse(moment))
    return None if found is None else clock.to_text(found.until)


@pytest.mark.parametrize(
    "window, moment, until",
    [
        # Spring forward in Paris (Sunday 2026-03-29, 02:00 CET -> 03:00 CEST).
        (WEEKENDS_PARIS, "2026-03-27T22:59:59Z", None),  # Friday 23:59:59 CET
        (WEEKENDS_PARIS, "2026-03-27T23:00:00Z", "2026-03-29T22:00:00.000000Z"),
        (WEEKENDS_PARIS, "2026-03-29T21:59:59Z", "2026-03-29T22:00:00.000000Z"),  # Sun 23:59 CEST
        (WEEKENDS_PARIS, "2026-03-29T22:00:00Z", None),  # Monday 00:00 CEST
        # Fall back in Paris (Sunday 2026-10-25, 03:00 CEST -> 02:00 CET).
        (WEEKENDS_PARIS, "2026-10-23T21:59:59Z", None),  # Friday 23:59:59 CEST
        (WEEKENDS_PARIS, "2026-10-23T22:00:00Z", "2026-10-25T23:00:00.000000Z"),
        (WEEKENDS_PARIS, "2026-10-25T22:59:59Z", "2026-10-25T23:00:00.000000Z"),  # Sun 23:59 CET
        (WEEKENDS_PARIS, "2026-10-25T23:00:00Z", None),
        # New York office hours keep 09:00-17:00 local across 2026-03-08.
        (OFFICE_NEW_YORK, "2026-03-06T13:59:00Z", None),  # Friday 08:59 EST
        (OFFICE_NEW_YORK, "2026-03-06T14:00:00Z", "2026-03-06T22:00:00.000000Z"),
        (OFFICE_NEW_YORK, "2026-03-09T12:59:00Z", None),  # Monday 08:59 EDT
        (OFFICE_NEW_YORK, "2026-03-09T13:00:00Z", "2026-03-09T21:00:00.000000Z"),
        (OFFICE_NEW_YORK, "2026-03-09T20:59:59Z", "2026-03-09T21:00:00.000000Z"),
        (OFFICE_NEW_YORK, "2026-03-09T21:00:00Z", None),
        (OFFICE_NEW_YORK, "2026-03-07T15:00:00Z", None),  # Saturday
        # A window across the skipped hour lasts two real hours.
        (NIGHT_OF_THE_CHANGE, "2026-03-28T23:59:59Z", None),  # 00:59:59 CET
        (NIGHT_OF_THE_CHANGE, "2026-03-29T00:00:00Z", "2026-03-29T02:00:00.000000Z"),
        (NIGHT_OF_THE_CHANGE, "2026-03-29T01:30:00Z", "2026-03-29T02:00:00.000000Z"),  # 03:30
        (NIGHT_OF_THE_CHANGE, "2026-03-29T02:00:00Z", None),  # 04:00 CEST
        # One-off windows with offsets.
        (YEAR_END, "2026-12-19T22:59:59Z", None),
        (YEAR_END, "2026-12-19T23:00:00Z", "2027-01-03T23:00:00.000000Z"),
        (YEAR_END, "2027-01-03T22:59:59Z", "2027-01-03T23:00:00.000000Z"),
        (YEAR_END, "2027-01-03T23:00:00Z", None),
    ],
)
def test_freeze_windows(window, moment, until):
    assert frozen(window, moment) == until


def test_first_matching_window_is_named():
    found = active_window([OFFICE_NEW_YORK, YEAR_END], clock.parse("2026-12-21T12:00:00Z"))
    assert found.name == "year-end"
    message = freeze_message("production", found)
    assert "year-end" in message and "production" in message and "override_reason" in message
    assert active_window([], clock.parse("2026-12-21T12:00:00Z")) is None


@pytest.mark.parametrize(
    "window",
    [
        {"name": "x", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"name": "x", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"name": "x", "start": "yesterday", "end": "2026-01-01T00:00:00Z"},
        {"name": "x", "start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"},
        {"name": "x", "start": "2026-01-01T00:00:00Z"},
        {
            "name": "x",
            "days": ["sat"],
            "start_time": "00:00",
            "end_time": "24:00",
            "time_zone": "Europe/Atlantis",
        },
        {"name": "x", "days": ["saturday"], "start_time": "00:00", "end_time": "10:00"},
        {"name": "x", "days": [], "start_time": "00:00", "end_time": "10:00"},
        {"name": "x", "days": ["sat"], "start_time": "10:00", "end_time": "10:00"},
        {"name": "x", "days": ["sat"], "start_time": "24:00", "end_time": "24:00"},
        {"name": "x", "days": ["sat"], "start_time": "9:00", "end_time": "10:00"},
        {"name": "x", "days": ["sat"], "start_time": "09:60", "end_time": "10:00"},
        {"name": "x", "days": ["sat"], "start_time": "09:00", "end_time": "25:00"},
        {"name": "", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
    ],
)
def test_invalid_windows_are_refused(window):
    with pytest.raises(ValidationError):
        PolicyBody(freeze_windows=[window])


def test_defaults():
    policy = with_defaults({"requires_approval": True, "junk": 1})
    assert policy == {
        "requires_approval": True,
        "min_approvals": 1,
        "approver_role": "approver",
        "approvers": [],
        "prevent_self_approval": True,
        "freeze_windows": [],
    }
    weekly = PolicyBody(
        freeze_windows=[{"name": "w", "days": ["mon"], "start_time": "01:00", "end_time": "02:00"}]
    )
    assert weekly.freeze_windows[0].time_zone == "UTC"


def test_the_default_policy_is_the_models_defaults():
    from shared.models.policy import DEFAULT_POLICY

    assert DEFAULT_POLICY == PolicyBody().model_dump(mode="json")
    assert with_defaults(None) == DEFAULT_POLICY and with_defaults(None) is not DEFAULT_POLICY
