"""Time as deployq writes it: RFC 3339 UTC in one fixed-width form, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """`2026-01-02T03:04:05.123456Z` for any aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(FORMAT)


def now_text() -> str:
    return to_text(utcnow())


def parse(text: str) -> datetime:
    """Parse RFC 3339 text with an offset or `Z`; raises ValueError otherwise."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("expected an RFC 3339 timestamp such as 2026-01-02T03:04:05Z")
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError("the timestamp needs a time zone offset or Z")
    return moment.astimezone(UTC)


def normalise(text: str) -> str:
    """Any RFC 3339 text -> the fixed-width UTC form."""
    return to_text(parse(text))
