"""Data packages: statuses and their machine, package changes, action records, the public
shapes. Plain Python; the request shapes (pydantic) are in `shared.schemas.package`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared import clock

# Firestore skips (and bills) every offset document: deep pages need filters instead.
MAX_OFFSET = 100_000


class PackageType(str, Enum):
    database = "database"
    document = "document"


class PackageStatus(str, Enum):
    active = "active"
    archived = "archived"
    deleted = "deleted"


class DeploymentStatus(str, Enum):
    awaiting_approval = "awaiting_approval"  # its environment requires approval; nothing written
    rejected = "rejected"  # an approver rejected it; nothing was written
    running = "running"
    undoing = "undoing"  # restoring the before-images (failed, cancelled or rolled back)
    completed = "completed"
    failed = "failed"
    rolled_back = "rolled_back"


D = DeploymentStatus
# The whole package-deployment status machine: from -> statuses it may move to. A job's
# next attempt redoes a deployment its dead attempt left running, undoing or failed.
DEPLOYMENT_TRANSITIONS: dict[DeploymentStatus, frozenset[DeploymentStatus]] = {
    D.awaiting_approval: frozenset({D.running, D.rejected, D.failed}),
    D.rejected: frozenset(),
    D.running: frozenset({D.completed, D.failed, D.undoing}),
    D.undoing: frozenset({D.failed, D.rolled_back, D.running}),
    D.completed: frozenset({D.undoing}),
    D.failed: frozenset({D.running}),
    D.rolled_back: frozenset(),
}
UNFINISHED = frozenset({D.running, D.undoing})


def deployment_move(deployment_id: str, current: str, target: DeploymentStatus) -> str:
    """`target`'s value when package deployment `deployment_id` may move `current` -> `target`
    (or stays); else Conflict (409)."""
    from shared.errors import Conflict

    if DeploymentStatus(current) != target and target not in DEPLOYMENT_TRANSITIONS[D(current)]:
        raise Conflict(
            f"package deployment {deployment_id} is {current}; it cannot become {target.value}",
            code="illegal_transition",
        )
    return target.value


def require_usable(package: dict[str, Any]) -> dict[str, Any]:
    """A package that may be generated or deployed; 409 `package_deleted` when deleted."""
    from shared.errors import Conflict

    if package.get("status") == PackageStatus.deleted.value:
        raise Conflict(f"package {package['id']} is deleted", code="package_deleted")
    return package


def package_changes(current: dict[str, Any], changes: dict[str, Any], now: str) -> dict[str, Any]:
    """What a PUT or DELETE writes: a deleted package changes no more (409); the computed
    counts of `metadata` stay while the caller's keys are replaced."""
    from shared.errors import Conflict

    if current.get("status") == PackageStatus.deleted.value and changes.get("status") != "deleted":
        raise Conflict(f"package {current['id']} is deleted", code="package_deleted")
    update = dict(changes)
    if "metadata" in update:
        computed = {
            k: current.get("metadata", {}).get(k) for k in ("total_records", "record_counts")
        }
        update["metadata"] = {**update["metadata"], **computed}
    update["updated_at"] = now
    return update


PACKAGE_FIELDS = (
    "id",
    "name",
    "version",
    "package_type",
    "description",
    "environment",
    "status",
    "active",
    "checksum",
    "size_bytes",
    "metadata",
    "tags",
    "created_at",
    "created_by",
    "updated_at",
)
DEPLOYMENT_FIELDS = (
    "id",
    "package_id",
    "package_name",
    "package_version",
    "environment",
    "status",
    "dry_run",
    "is_active",
    "options",
    "deployed_at",
    "deployed_by",
    "rolled_back_at",
    "rolled_back_by",
    "pk_mapping_result",
    "records_processed",
    "records_succeeded",
    "records_skipped",
    "records_failed",
    "tables_processed",
    "errors",
    "job_id",
    "approval_status",
    "approvals",
    "created_by_actor",
    "override_reason",
    "created_at",
    "started_at",
    "completed_at",
)
ACTION_FIELDS = (
    "id",
    "package_id",
    "action_type",
    "action_status",
    "source_environment",
    "target_environment",
    "performed_at",
    "performed_by",
    "started_at",
    "completed_at",
    "duration_seconds",
    "records_processed",
    "records_succeeded",
    "records_failed",
    "tables_processed",
    "deployment_id",
    "error",
)


def action_record(
    action_type: str,
    *,
    started: float,
    started_at: str | None,
    actor: str | None,
    source: str | None,
    target: str | None,
    processed: int,
    tables: int,
    succeeded: int | None = None,
    failed: int = 0,
    status: str = "completed",
    **extra: Any,
) -> dict[str, Any]:
    """An action (pack, generate, import, deploy, rollback) ending now; `started` is monotonic."""
    now = clock.now_text()
    return {
        "action_type": action_type,
        "action_status": status,
        "source_environment": source,
        "target_environment": target,
        "performed_at": now,
        "performed_by": actor,
        "started_at": started_at,
        "completed_at": now,
        "duration_seconds": round(time.monotonic() - started, 3),
        "records_processed": processed,
        "records_succeeded": processed if succeeded is None else succeeded,
        "records_failed": failed,
        "tables_processed": tables,
        **extra,
    }


def public_package(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in PACKAGE_FIELDS}


def public_deployment(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in DEPLOYMENT_FIELDS}


def public_action(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in ACTION_FIELDS}


@dataclass(frozen=True)
class Deployed:
    """What a deploy request came to: a finished deployment, or a queued job."""

    deployment: dict[str, Any] | None = None
    job: dict[str, Any] | None = None
    job_created: bool = False
    waiting: bool = False  # it waits for approval
