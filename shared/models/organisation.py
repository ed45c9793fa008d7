"""The organisation record: names and patterns, rule globs, grants and the stored shape.

`organisations/{org}` in the control-plane database. Plain Python, loaded at start by every
function; the request and response shapes (pydantic) are in `shared.schemas.organisation`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# Google Cloud project ids (optionally domain-scoped, `example.com:project`).
PROJECT_ID = re.compile(r"^(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
# Firestore database ids: `(default)` or lower-case letters, digits and `-`, a letter first.
# Production asks for 4 characters at least; the emulator (and `make dev`) also takes `dev`.
DATABASE_ID = re.compile(r"^\(default\)$|^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SERVICE_PATTERN = re.compile(
    r"^projects/(?P<project>(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"/locations/(?P<location>[a-z][a-z0-9-]{1,62})"
    r"/services/(?P<service>[a-z0-9-]{0,63}\*?)$"
)
GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$|^[A-Za-z0-9-]+\[bot\]$")
EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}$")
OWNER_ID = re.compile(r"^[0-9]{1,20}$")
GLOB_CHARS = re.compile(r"^[A-Za-z0-9_.*/@:+=~-]{1,256}$")


def matched(pattern: re.Pattern[str], value: str, message: str) -> str:
    """`value` when `pattern` matches it; ValueError(message) otherwise."""
    if not pattern.match(value):
        raise ValueError(message)
    return value


def check_glob(value: str) -> str:
    """A rule glob: `*` any run without `/`, `**` any run; no `***`, no spaces, not empty."""
    if not isinstance(value, str) or not GLOB_CHARS.match(value) or "***" in value:
        raise ValueError(
            "a glob is 1-256 characters of letters, digits, _ . / @ : + = ~ - and * or **"
        )
    return value


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for token in re.split(r"(\*\*|\*)", pattern):
        if token == "**":
            parts.append(".*")
        elif token == "*":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def glob_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether `text` matches a rule glob: `*` matches any run except `/`, `**` any run."""
    return _glob_regex(pattern, ignore_case).fullmatch(text) is not None


def service_matches(pattern: str, service_path: str) -> bool:
    """Whether a Cloud Run service path matches a granted pattern (`S` may end with `*`)."""
    if pattern.endswith("*"):
        return service_path.startswith(pattern[:-1]) and "/" not in service_path[len(pattern) - 1 :]
    return service_path == pattern


# Fields an org admin may change with PATCH; every other record field is the platform's.
ORG_ADMIN_FIELDS = {"members": None, "github": {"rules"}}
RECORD_FIELDS = (
    "name",
    "environments",
    "cloud_run_services",
    "members",
    "github",
    "created_at",
    "updated_at",
)


def empty_record(org: str) -> dict[str, Any]:
    """What an organisation with no record looks like: its name and empty lists."""
    return {
        "name": org,
        "environments": {},
        "cloud_run_services": [],
        "members": [],
        "github": {"owner_id": None, "rules": []},
        "created_at": None,
        "updated_at": None,
    }


def normalised(org: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    """A stored record with every field present (missing lists are empty)."""
    record = empty_record(org)
    if stored:
        record.update({k: v for k, v in stored.items() if k in RECORD_FIELDS})
        github = stored.get("github") or {}
        record["github"] = {"owner_id": github.get("owner_id"), "rules": github.get("rules") or []}
        record["environments"] = stored.get("environments") or {}
        record["cloud_run_services"] = stored.get("cloud_run_services") or []
        record["members"] = stored.get("members") or []
    record["name"] = org
    return record
