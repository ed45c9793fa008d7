"""Runbooks: search and matching as pure functions over runbook records."""

from __future__ import annotations

from typing import Any

FAILURE_STATUSES = ("failed", "rolled_back")


def words(q: str | None) -> list[str]:
    return [w for w in (q or "").lower().split() if w]


def matches_text(runbook: dict[str, Any], q: str | None) -> bool:
    """Every word of `q` occurs in the title or the content, case-insensitively."""
    text = f"{runbook.get('title', '')}\n{runbook.get('content', '')}".lower()
    return all(word in text for word in words(q))


def matches_deployment(runbook: dict[str, Any], name: str | None, environment: str | None) -> bool:
    """A runbook for this deployment: its service and environment, where set, agree."""
    service, env = runbook.get("service"), runbook.get("environment")
    if service is None and env is None:
        return False
    return (service is None or service == name) and (env is None or env == environment)


def reference(runbook: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": runbook["id"],
        "title": runbook["title"],
        "service": runbook.get("service"),
        "environment": runbook.get("environment"),
        "tags": list(runbook.get("tags") or []),
    }
