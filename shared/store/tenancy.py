"""Where a collection-group result lives: only `organisations/{org}/<coll>/<id>` is a tenant's.

Collection-group queries (sweeps, the worker's job lookup) match a collection name in
the whole database, so a document planted in a same-named collection elsewhere (a
top-level `outbox`, `jobs` or `package_deployments`) would otherwise be taken for an
organisation's own. Such matches are ignored and logged, never acted on, and never take
the place of a tenant's document in a limited read (`tenant_documents` pages past them).
"""

from __future__ import annotations

from shared import logs
from shared.models.ids import ORG_NAME
from shared.store.firestore import every

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


def tenant_documents(query, limit: int, page_size: int | None = None) -> list[tuple[str, object]]:
    """(organisation, snapshot) of the first `limit` results of a collection-group `query`
    under `organisations/{org}/`: pages follow a cursor past the others, so however many
    there are they never fill the answer."""
    found = []
    for snapshot in every(query, page_size or limit):
        org = tenant_of(snapshot.reference)
        if org is not None:
            found.append((org, snapshot))
            if len(found) >= limit:
                break
    return found
