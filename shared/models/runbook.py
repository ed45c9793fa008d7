"""Runbooks: search and matching as pure functions over runbook records."""

from __future__ import annotations

from typing import Any

FAILURE_STATUSES = ("failed", "rolled_back")
GRAM = 3


def words(q: str | None) -> list[str]:
    return [w for w in (q or "").lower().split() if w]


def matches_text(runbook: dict[str, Any], q: str | None) -> bool:
    """Every word of `q` occurs in the title or the content, case-insensitively."""
    text = f"{runbook.get('title', '')}\n{runbook.get('content', '')}".lower()
    return all(word in text for word in words(q))


def grams(runbook: dict[str, Any]) -> list[str]:
    """The search index of a runbook: every 3-character piece of every word of its title and
    content, lower-cased. A text holding a query word of 3 characters or more holds all its
    pieces, so one of them finds every runbook that can match."""
    text = f"{runbook.get('title', '')}\n{runbook.get('content', '')}".lower()
    found = {word[i : i + GRAM] for word in text.split() for i in range(len(word) - GRAM + 1)}
    return sorted(found)


def search_gram(q: str | None) -> str | None:
    """The index entry a search looks up: a piece of its longest word (None when every word
    is shorter than 3 characters, then the search reads every candidate)."""
    longest = max(words(q), key=len, default="")
    return longest[:GRAM] if len(longest) >= GRAM else None


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
