"""Data packages: request bodies, deploy options, list queries and the public shapes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared import clock

# Firestore skips (and bills) every offset document: deep pages need filters instead.
MAX_OFFSET = 100_000

Name = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")
]
Column = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=1500, pattern=r"^[^\x00-\x1f]+$")
]
CollectionName = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=1500, pattern=r"^[^/\x00-\x1f]+$"),
]
Text = Optional[Annotated[str, StringConstraints(strict=True, max_length=10_000)]]
Tag = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]


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


class ForeignKey(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    column: Column
    references: Annotated[str, StringConstraints(strict=True, pattern=r"^[^./]+\.[^.]+$")]


class TableSpec(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    name: CollectionName
    primary_key: Column = "id"
    foreign_keys: list[ForeignKey] = Field(default_factory=list, max_length=100)


class PackageFilter(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    tables: Optional[list[Union[CollectionName, TableSpec]]] = Field(None, max_length=500)
    collections: Optional[list[CollectionName]] = Field(None, max_length=500)
    where_clause: Optional[dict[str, Union[str, list[Any]]]] = None
    exclude_columns: Optional[dict[str, list[Column]]] = None

    def table_specs(self) -> list[TableSpec]:
        return [TableSpec(name=t) if isinstance(t, str) else t for t in self.tables or []]


class PackageCreate(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: Name
    version: Name
    package_type: PackageType
    environment: Name
    description: Text = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    filter: Optional[PackageFilter] = None
    include_parent: StrictBool = False

    @model_validator(mode="after")
    def _filter_matches_type(self) -> PackageCreate:
        flt = self.filter or PackageFilter()
        if self.package_type == PackageType.database:
            if not flt.tables:
                raise ValueError("a database package needs filter.tables (at least one table)")
            if flt.collections:
                raise ValueError("a database package selects filter.tables, not collections")
            names = [t.name for t in flt.table_specs()]
        else:
            if not flt.collections:
                raise ValueError("a document package needs filter.collections (at least one)")
            if flt.tables:
                raise ValueError("a document package selects filter.collections, not tables")
            names = list(flt.collections)
        reserved = [n for n in names if n in (".", "..") or n.startswith("__") and n.endswith("__")]
        if reserved:
            raise ValueError(f"{reserved[0]} is a reserved Firestore collection id")
        if len(set(names)) != len(names):
            raise ValueError("filter names a table or collection twice")
        for option in ("where_clause", "exclude_columns"):
            unknown = set(getattr(flt, option) or {}) - set(names)
            if unknown:
                raise ValueError(
                    f"filter.{option} names {', '.join(sorted(unknown))}, which is not selected"
                )
        return self


class PackageUpdate(BaseModel):
    model_config = ConfigDict(defer_build=True)

    description: Text = None
    status: Optional[Literal["active", "archived"]] = None
    tags: Optional[list[Tag]] = Field(None, max_length=100)
    metadata: Optional[dict[str, Any]] = None


class PackageListQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    package_type: Optional[PackageType] = None
    environment: Optional[str] = None
    status: Optional[PackageStatus] = None
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PageQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class DeploymentListQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    environment: Optional[str] = None
    is_active: Optional[bool] = None
    package_id: Optional[str] = None
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class DeployOptions(BaseModel):
    """The deploy options of the Package Deployment API document."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    skip_existing: StrictBool = False
    update_existing: StrictBool = False
    validate_references: StrictBool = False
    create_missing: StrictBool = False
    batch_size: StrictInt = Field(100, ge=1, le=100_000)
    transaction_size: StrictInt = Field(500, ge=1, le=100_000)
    continue_on_error: StrictBool = False
    dry_run: StrictBool = False

    @model_validator(mode="after")
    def _exclusive(self) -> DeployOptions:
        if self.skip_existing and self.update_existing:
            raise ValueError("skip_existing and update_existing cannot both be true")
        return self


class DeployRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    environment: Name
    options: DeployOptions = Field(default_factory=DeployOptions)
    run_as_background: StrictBool = False
    schedule_at: Optional[str] = None
    override_reason: Optional[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2000)]
    ] = Field(default=None, description="admin only: passes a freeze window, recorded")

    @field_validator("schedule_at")
    @classmethod
    def _rfc3339(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            return clock.normalise(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"schedule_at must be RFC 3339 with a zone: {exc}") from None


class GenerateRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    format: Literal["json", "zip"] = "json"
    run_as_background: StrictBool = False


class ImportRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    package_data: dict[str, Any]
    environment: Optional[Name] = None


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
