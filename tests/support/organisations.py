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


class MemoryOrganisationStore:
    """OrganisationStore's methods over a dict, for unit tests of identity decisions."""

    db = None

    def __init__(self, records: dict[str, dict[str, Any]] | None = None):
        self.records = dict(records or {})

    def get(self, org: str, transaction=None) -> dict[str, Any] | None:
        return self.records.get(org)

    def list(self, limit: int, after: str | None):
        names = sorted(n for n in self.records if after is None or n > after)
        items = [(n, self.records[n]) for n in names[:limit]]
        return items, (items[-1][0] if len(names) > limit else None)

    def write(self, writer, org: str, record: dict[str, Any]) -> None:
        self.records[org] = record

    def delete(self, writer, org: str) -> None:
        self.records.pop(org, None)


def memory_organisations(settings, records: dict[str, dict[str, Any]] | None = None):
    """An OrganisationService over records held in memory (no events)."""
    from shared.organisations.service import OrganisationService

    store = MemoryOrganisationStore(records)
    return OrganisationService(settings, store=store, run=lambda db, body: body(None))
