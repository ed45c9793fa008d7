"""Audit entries from events, and the CSV form: RFC 4180 quoting and no formula injection."""

from __future__ import annotations

import csv
import io

import pytest

from shared.governance.audit import CSV_COLUMNS, csv_lines, diff, entry_from_event, safe_cell

EVENT = {
    "specversion": "1.0",
    "id": "ev-1",
    "type": "deployq.deployment.status_changed",
    "source": "//deployq/organisations/acme",
    "subject": "deployments/0b7f2a3e-0000-4000-8000-000000000001",
    "time": "2026-01-02T03:04:05.000000Z",
    "data": {
        "organisation": "acme",
        "before": {"status": "scheduled", "notes": None, "updated_at": "a"},
        "after": {"status": "deployed", "notes": None, "updated_at": "b"},
        "principal": {
            "kind": "github_pat",
            "subject": "octocat",
            "actor": "octocat",
            "repository": None,
        },
        "request": {"ip": "198.51.100.7", "user_agent": "curl/8"},
        "override_reason": "incident 7",
    },
}


def test_entry_from_event():
    entry = entry_from_event(EVENT)
    assert entry["event_id"] == "ev-1" and entry["time"] == EVENT["time"]
    assert entry["actor"] == "octocat" and entry["principal_kind"] == "github_pat"
    assert entry["action"] == "deployq.deployment.status_changed"
    assert entry["resource_type"] == "deployment"
    assert entry["resource_id"] == "0b7f2a3e-0000-4000-8000-000000000001"
    assert entry["before"] == {"status": "scheduled"} and entry["after"] == {"status": "deployed"}
    assert entry["changed_fields"] == ["status"]
    assert entry["ip"] == "198.51.100.7" and entry["override_reason"] == "incident 7"
    assert entry_from_event(EVENT)["id"] == entry["id"]  # stable per event


def test_diff_of_a_creation_keeps_everything():
    before, after, fields = diff(None, {"b": 1, "a": 2})
    assert before is None and after == {"b": 1, "a": 2} and fields == ["a", "b"]


@pytest.mark.parametrize(
    "value, cell",
    [
        (None, ""),
        ("plain", "plain"),
        ("=1+1", "'=1+1"),
        ("+33 1", "'+33 1"),
        ("-x", "'-x"),
        ("@me", "'@me"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (3, "3"),
        ({"a": 1}, '{"a":1}'),
        ("a=b", "a=b"),
    ],
)
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


def test_csv_is_rfc_4180():
    entries = [
        {**entry_from_event(EVENT), "user_agent": 'say "hi", then\r\nleave'},
        {**entry_from_event({**EVENT, "id": "ev-2"}), "user_agent": "=cmd|' /C calc'!A0"},
    ]
    text = "".join(csv_lines(entries))
    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert '"say ""hi"", then\r\nleave"' in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["user_agent"] for r in rows] == ['say "hi", then\r\nleave', "'=cmd|' /C calc'!A0"]
    assert rows[0]["changed_fields"] == "status"
    assert text.endswith("\r\n")


def test_empty_export_has_the_header_only():
    assert "".join(csv_lines([])) == ",".join(CSV_COLUMNS) + "\r\n"
