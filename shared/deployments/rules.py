"""The queue's rules as pure functions of records: new records, patches, skips, rollbacks.

No I/O: `shared.deployments.queue` reads what these need and writes what they return.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.errors import Conflict, NotFound
from shared.models.deployment import (
    ROLLBACK_COPIED_FIELDS,
    TAXONOMY_FIELDS,
    Status,
    Trigger,
    taxonomy_key,
    transition_error,
)

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.deployment import DeploymentPatch

CREATED = "deployq.deployment.created"
STATUS_CHANGED = "deployq.deployment.status_changed"
UPDATED = "deployq.deployment.updated"


def request_hash(payload: Any) -> str:
    """The hash an idempotency key keeps of the request body that created a record."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def new_record(org: str, fields: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A scheduled deployment of `fields`, created now by `principal`."""
    now = clock.now_text()
    record = dict(fields)
    for name in TAXONOMY_FIELDS:
        record[name] = record.get(name) or None
    record.update(
        id=str(uuid.uuid4()),
        organisation=org,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        deployed_at=None,
        status=Status.scheduled.value,
        trigger=record.get("trigger")
        or (Trigger.auto.value if record.get("auto", True) else Trigger.manual.value),
        source_deployment_id=record.get("source_deployment_id"),
        rollback_from_deployment_id=record.get("rollback_from_deployment_id"),
        created_by_repo=principal.repository,
        created_by_workflow=principal.workflow,
        created_by_actor=principal.actor,
    )
    record["taxonomy_key"] = taxonomy_key(record)
    return record


def check_move(record: dict[str, Any], target: Status) -> None:
    """Conflict (`invalid_transition`) when the status machine forbids the move."""
    problem = transition_error(Status(record["status"]), target)
    if problem:
        raise Conflict(problem, code="invalid_transition")


def patched(before: dict[str, Any], patch: DeploymentPatch, now: str) -> dict[str, Any]:
    """The record after `patch` (its status move already checked); `before` when unchanged."""
    after = dict(before)
    for name in ("notes", "deployment_uri"):
        value = getattr(patch, name)
        if value is not None:
            after[name] = value
    moves = patch.status is not None and patch.status.value != before["status"]
    if not moves and after == before:
        return before
    after["updated_at"] = now
    if moves:
        after["status"] = patch.status.value
        after["status_changed_at"] = now
        if patch.status == Status.deployed:
            after["deployed_at"] = now
    return after


def change_type(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The event type of a change of one record."""
    if before.get("status") != after.get("status"):
        return STATUS_CHANGED
    return UPDATED


def claimed(before: dict[str, Any], now: str) -> dict[str, Any]:
    return dict(before, status=Status.in_progress.value, updated_at=now, status_changed_at=now)


def skipped(
    before: dict[str, Any], winner: dict[str, Any], now: str, verb: str
) -> dict[str, Any] | None:
    """A scheduled record superseded by `winner` (deployed or claimed); None if not scheduled."""
    if before.get("status") != Status.scheduled.value:
        return None
    note = f"Skipped: superseded by deployment {winner['id']} (version {winner['version']}, {verb})"
    after = dict(before, status=Status.skipped.value, updated_at=now, status_changed_at=now)
    after["notes"] = add_note(before, note)
    return after


def rolled_back(before: dict[str, Any], rollback: dict[str, Any], now: str) -> dict[str, Any]:
    """The deployed record a deployed rollback replaces."""
    return dict(
        before,
        status=Status.rolled_back.value,
        updated_at=now,
        status_changed_at=now,
        notes=f"Rolled back by deployment {rollback['id']} (version {rollback['version']})",
    )


def add_note(record: dict[str, Any], note: str) -> str:
    """The record's notes with `note` on a line of its own."""
    return f"{record['notes']}\n{note}" if record.get("notes") else note


def replaces(record: dict[str, Any]) -> str | None:
    """The id of the deployed record a rollback replaces once it deploys, else None."""
    replaced_id = record.get("rollback_from_deployment_id")
    if record.get("trigger") != Trigger.rollback.value or not replaced_id:
        return None
    return replaced_id


def rollback_fields(source: dict[str, Any], replaced: dict[str, Any]) -> dict[str, Any]:
    """The fields of a rollback re-deploying `source` in place of `replaced`."""
    fields = {name: source.get(name) for name in ROLLBACK_COPIED_FIELDS}
    fields.update(
        auto=source.get("auto", True),
        trigger=Trigger.rollback.value,
        source_deployment_id=source["id"],
        rollback_from_deployment_id=replaced["id"],
        notes=f"Rollback from {replaced['version']} ({replaced['id']}) "
        f"to {source['version']} ({source['id']})",
    )
    return fields


def rollback_source(
    history: Iterable[dict[str, Any]], current: dict[str, Any], target_version: str | None
) -> dict[str, Any]:
    """The record a rollback from `current` copies: from the taxonomy's deployed records
    (of `target_version`, when given), most recently deployed first, the first one
    deployed before `current` with another version (any version, given a target).

    Raises NotFound when there is none.
    """
    deployed_at = current.get("deployed_at") or ""
    for record in history:
        if record["id"] == current["id"]:
            continue
        if target_version is None and record["version"] == current["version"]:
            continue
        if (record.get("deployed_at") or "") > deployed_at:
            continue
        return record
    if target_version is not None:
        raise NotFound(f"no earlier deployed record of version {target_version} to roll back to")
    raise NotFound("no earlier deployed version of this taxonomy to roll back to")
