"""Audit log entries from events, and their CSV form (RFC 4180, no formula injection)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from shared.events import resource_type

CSV_COLUMNS = (
    "time",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "ip",
    "user_agent",
    "principal_kind",
    "repository",
    "workflow",
    "comment",
    "override_reason",
    "on_behalf_of",
    "changed_fields",
    "before",
    "after",
    "event_id",
    "id",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
IGNORED_DIFF_FIELDS = ("updated_at",)


def entry_id(event_id: str) -> str:
    """The audit entry id of an event: stable, so handling an event twice writes one entry."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"deployq-event:{event_id}"))


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None, list[str]]:
    """Before/after of the changed fields only (creation keeps the whole new resource)."""
    if before is None or after is None:
        fields = sorted((after or before or {}).keys())
        return before, after, fields
    changed = sorted(
        k
        for k in set(before) | set(after)
        if before.get(k) != after.get(k) and k not in IGNORED_DIFF_FIELDS
    )
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}, changed


def entry_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """The audit entry (who, what, when, where from) of one deployq CloudEvent."""
    data = event.get("data") or {}
    principal = data.get("principal") or {}
    request = data.get("request") or {}
    subject = str(event.get("subject") or "")
    before, after, changed = diff(data.get("before"), data.get("after"))
    return {
        "id": entry_id(event["id"]),
        "event_id": event["id"],
        "time": event.get("time"),
        "organisation": data.get("organisation") or event.get("organisation"),
        "actor": principal.get("actor"),
        "principal_kind": principal.get("kind"),
        "subject": principal.get("subject"),
        "repository": principal.get("repository"),
        "workflow": principal.get("workflow"),
        "action": event.get("type"),
        "resource_type": resource_type(subject),
        "resource_id": subject.split("/", 1)[1] if "/" in subject else subject,
        "before": before,
        "after": after,
        "changed_fields": changed,
        "comment": data.get("comment"),
        "override_reason": data.get("override_reason"),
        "on_behalf_of": data.get("on_behalf_of"),
        "ip": request.get("ip"),
        "user_agent": request.get("user_agent"),
    }


def safe_cell(value: Any) -> str:
    """A CSV cell's text; one that a spreadsheet would run as a formula gets a leading `'`."""
    if value is None:
        text = ""
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header row then one row per entry, RFC 4180 (CRLF, quotes doubled), as text chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        row = dict(entry, changed_fields=" ".join(entry.get("changed_fields") or []))
        writer.writerow([safe_cell(row.get(column)) for column in CSV_COLUMNS])
        count += 1
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
