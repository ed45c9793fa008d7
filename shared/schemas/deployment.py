"""The deployment queue's request and response shapes (pydantic, published in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from shared import clock
from shared.models.deployment import DeploymentType, Provider, Status, Trigger, plain_value

ShortText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256)]
OptionalShort = Optional[Annotated[str, StringConstraints(strict=True, max_length=256)]]
LongText = Optional[Annotated[str, StringConstraints(strict=True, max_length=10_000)]]
Uri = Optional[Annotated[str, StringConstraints(strict=True, max_length=2048)]]


class DeploymentCreate(BaseModel):
    """Body of `POST /v1/deployments`. Server-owned fields are ignored if sent."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    name: ShortText
    version: ShortText
    provider: Provider
    type: DeploymentType
    commit_sha: OptionalShort = None
    commit_timestamp: Optional[str] = Field(
        default=None, description="RFC 3339 time of the commit (DORA lead time)"
    )
    pipeline_extra_params: Optional[
        Annotated[str, StringConstraints(strict=True, max_length=65_536)]
    ] = None
    cloud_account_id: OptionalShort = None
    region: OptionalShort = None
    environment: OptionalShort = None
    cell: OptionalShort = None
    auto: StrictBool = True
    description: LongText = None
    notes: LongText = None
    build_uri: Uri = None
    deployment_uri: Uri = None
    resource: Optional[Annotated[str, StringConstraints(strict=True, max_length=1024)]] = None

    @field_validator("commit_timestamp")
    @classmethod
    def _rfc3339(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 string")
        return clock.normalise(value)


class DeploymentPatch(BaseModel):
    """Body of `PATCH /v1/deployments/{id}`: only these fields may change."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: Optional[Status] = None
    notes: LongText = None
    deployment_uri: Uri = None
    override_reason: Optional[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2000)]
    ] = Field(default=None, description="admin only: passes a freeze window, recorded")


class TaxonomyBody(BaseModel):
    """Body of `POST /v1/deployments/claim`: a taxonomy (absent fields are null)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    name: ShortText
    provider: Provider
    cloud_account_id: OptionalShort = None
    region: OptionalShort = None
    cell: OptionalShort = None


class Deployment(BaseModel):
    """A deployment as the API returns it."""

    model_config = ConfigDict(defer_build=True)

    id: str
    created_at: str
    updated_at: str
    organisation: str
    name: str
    version: str
    commit_sha: Optional[str] = None
    commit_timestamp: Optional[str] = None
    pipeline_extra_params: Optional[str] = None
    provider: Provider
    cloud_account_id: Optional[str] = None
    region: Optional[str] = None
    environment: Optional[str] = None
    cell: Optional[str] = None
    type: DeploymentType
    status: Status
    auto: bool = True
    trigger: Trigger
    description: Optional[str] = None
    notes: Optional[str] = None
    build_uri: Optional[str] = None
    deployment_uri: Optional[str] = None
    resource: Optional[str] = None
    source_deployment_id: Optional[str] = None
    rollback_from_deployment_id: Optional[str] = None
    created_by_repo: Optional[str] = None
    created_by_workflow: Optional[str] = None
    created_by_actor: Optional[str] = None
    deployed_at: Optional[str] = None
    status_changed_at: Optional[str] = None
    approval_status: str = Field(
        default="not_required", description="not_required | pending | approved | rejected"
    )
    approvals: list[dict[str, Any]] = Field(
        default_factory=list, description='[{"actor", "decision", "comment", "time"}]'
    )
    runbooks: Optional[list[dict[str, Any]]] = Field(
        default=None, description="failed or rolled_back deployments: the matching runbooks"
    )


class ListQuery(BaseModel):
    """Query of `GET /v1/deployments`. An empty taxonomy value (`cell=`) matches null."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    status: Optional[Status] = None
    name: OptionalShort = None
    environment: OptionalShort = None
    provider: Optional[Provider] = None
    cloud_account_id: OptionalShort = None
    region: OptionalShort = None
    cell: OptionalShort = None
    trigger: Optional[Trigger] = None
    limit: int = Field(default=100, ge=1, le=1000)
    page_token: Optional[Annotated[str, StringConstraints(max_length=512)]] = None

    def filters(self) -> dict[str, Any]:
        """Equality filters to apply: given fields only, "" meaning null."""
        result = {}
        for name in (
            "status",
            "name",
            "environment",
            "provider",
            "cloud_account_id",
            "region",
            "cell",
            "trigger",
        ):
            if name in self.model_fields_set:
                value = plain_value(getattr(self, name))
                result[name] = None if value == "" else value
        return result


class RollbackQuery(BaseModel):
    """Query of `POST /v1/deployments/rollback`: the taxonomy, "" meaning null."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    name: ShortText
    provider: Provider
    cloud_account_id: Annotated[str, StringConstraints(max_length=256)]
    region: Annotated[str, StringConstraints(max_length=256)]
    cell: OptionalShort = None
    target_version: OptionalShort = None

    def taxonomy(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider.value,
            "cloud_account_id": self.cloud_account_id or None,
            "region": self.region or None,
            "cell": self.cell or None,
        }


class TargetVersionQuery(BaseModel):
    """Query of `POST /v1/deployments/{id}/rollback`."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    target_version: OptionalShort = None
