"""Where a collection-group result lives: only `organisations/{org}/<coll>/<id>` is a tenant's.

Collection-group queries (sweeps, the worker's job lookup) match a collection name in
the whole database, so a document planted in a same-named collection elsewhere (a
top-level `outbox`, `jobs` or `package_deployments`) would otherwise be taken for an
organisation's own. Such matches are ignored and logged, never acted on.
"""

from __future__ import annotations

from shared import logs
from shared.models.ids import ORG_NAME

log = logs.get("tenancy")


def tenant_of(reference) -> str | None:
    """The organisation owning a document, or None (logged) when it is not under one."""
    path = getattr(reference, "path", "") or ""
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == "organisations" and ORG_NAME.match(parts[1]):
        if parts[1] == parts[1].lower():
            return parts[1]
    log.warning("ignored a document outside organisations/{org}/...: %s", path[:300])
    return None
