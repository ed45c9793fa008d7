"""Data packages' request shapes: bodies, deploy options and list queries (pydantic,
published in OpenAPI)."""

from __future__ import annotations

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
from shared.models.package import MAX_OFFSET, PackageStatus, PackageType

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
