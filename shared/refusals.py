"""What a caller is told when a backing service refuses a request, without its internals.

Google's and GitHub's error texts name hosts, paths, projects, configured audiences and
internal field paths; they go to the log, and the caller gets a sentence from this module.
"""

from __future__ import annotations

from shared import logs

log = logs.get("refusals")

# (words in the backing service's text, what the caller is told)
_FIRESTORE_REASONS = (
    ("nested entity", "a value is nested deeper than Firestore accepts (20 levels)"),
    ("exceeds the maximum allowed size", "a document is larger than Firestore accepts (1 MiB)"),
    ("too big", "a value is larger than Firestore accepts"),
    ("longer than", "a value is longer than Firestore accepts"),
    ("__name__", "a document id is not accepted by Firestore"),
    ("document id", "a document id is not accepted by Firestore"),
    ("field path", "a field name is not accepted by Firestore"),
    ("field name", "a field name is not accepted by Firestore"),
    ("too many index entries", "a document has more fields than Firestore can index"),
)


def invalid_write(exc: BaseException) -> str:
    """Why Firestore refused a write, in words that carry none of its message; logs that."""
    text = str(getattr(exc, "message", None) or exc)
    log.warning("backing service refused a write: %s", text)
    lowered = text.lower()
    reason = next((r for words, r in _FIRESTORE_REASONS if words in lowered), None)
    return f"the database refused the write: {reason or 'a value is not valid for Firestore'}"


def unreachable(service: str, exc: BaseException) -> str:
    """The sentence for a backing service that could not be reached; logs the cause."""
    log.warning("%s unreachable: %s: %s", service, type(exc).__name__, exc)
    return f"{service} is unavailable; retry the request"
