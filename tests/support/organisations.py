"""Organisation records for tests: what a platform admin would grant, written directly."""

from __future__ import annotations

from typing import Any

from shared import clock

ENVIRONMENT_NAMES = ("dev", "staging", "production")


def register(
    project: str,
    org: str = "acme",
    *,
    environments: dict[str, dict[str, str]] | None = None,
    services: list[str] | None = None,
    members: list[dict[str, Any]] | None = None,
    rules: list[dict[str, Any]] | None = None,
    owner_id: str | None = None,
) -> dict[str, Any]:
    """Write `organisations/{org}` in the control-plane database of `project` (emulator)."""
    from shared.store import firestore as fs

    now = clock.now_text()
    record = {
        "name": org,
        "environments": environments or {},
        "cloud_run_services": services or [],
        "members": members or [],
        "github": {"owner_id": owner_id, "rules": rules or []},
        "created_at": now,
        "updated_at": now,
    }
    fs.client(project).collection("organisations").document(org).set(record)
    return record


def environments(project: str, names=ENVIRONMENT_NAMES) -> dict[str, dict[str, str]]:
    """Environments named after their own databases in `project` (dev -> database `dev`)."""
    return {name: {"project": project, "database": name} for name in names}


def grant(project: str, org: str = "acme", **fields: Any) -> None:
    """Add grants to `org`'s record (creating it), keeping its other fields: `environments`
    and/or `cloud_run_services`, as a platform admin would."""
    from shared.store import firestore as fs

    now = clock.now_text()
    ref = fs.client(project).collection("organisations").document(org)
    ref.set({"name": org, "updated_at": now, **fields}, merge=True)


# The Cloud Run services of tests/support/canary.py (PROJECT, REGION), granted to acme.
CANARY_SERVICES = ["projects/shop-prod/locations/europe-west1/services/*"]


def grant_canary_services(project: str, org: str = "acme") -> None:
    grant(project, org, cloud_run_services=CANARY_SERVICES)
