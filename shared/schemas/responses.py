"""What the routes answer, as models for the OpenAPI document.

The handlers build plain dicts (`public_package` and friends); these models only describe
them, so `/openapi.json` gives every success answer a schema a client (or a property-based
test) can check answers against.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

Text = Optional[str]
Count = Optional[int]


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")


# -- every function --------------------------------------------------------------------


class Health(_Answer):
    status: Literal["healthy"]


class OpenApiDocument(_Answer):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


# -- packages --------------------------------------------------------------------------


class Package(_Answer):
    id: str
    name: str
    version: str
    package_type: Literal["database", "document"]
    description: Text = None
    environment: Text = None
    status: Literal["active", "archived", "deleted"]
    active: bool
    checksum: Text = None
    size_bytes: Count = None
    metadata: Optional[dict[str, Any]] = None
    tags: Optional[list[Any]] = None
    created_at: Text = None
    created_by: Text = None
    updated_at: Text = None


class PackageAction(_Answer):
    id: Text = None
    package_id: Text = None
    action_type: Literal["pack", "generate", "import", "deploy", "rollback"]
    action_status: Literal["completed", "failed"]
    source_environment: Text = None
    target_environment: Text = None
    performed_at: Text = None
    performed_by: Text = None
    started_at: Text = None
    completed_at: Text = None
    duration_seconds: Optional[float] = None
    records_processed: Count = None
    records_succeeded: Count = None
    records_failed: Count = None
    tables_processed: Count = None
    deployment_id: Text = None
    error: Text = None


class PackageDeployment(_Answer):
    id: str
    package_id: Text = None
    package_name: Text = None
    package_version: Text = None
    environment: Text = None
    status: Literal[
        "completed", "failed", "rolled_back", "running", "undoing", "awaiting_approval", "rejected"
    ]
    dry_run: Optional[bool] = None
    is_active: Optional[bool] = None
    options: Optional[dict[str, Any]] = None
    deployed_at: Text = None
    deployed_by: Text = None
    rolled_back_at: Text = None
    rolled_back_by: Text = None
    pk_mapping_result: Optional[dict[str, Any]] = None
    records_processed: Count = None
    records_succeeded: Count = None
    records_skipped: Count = None
    records_failed: Count = None
    tables_processed: Count = None
    errors: Optional[list[dict[str, Any]]] = None
    job_id: Text = None
    approval_status: Text = None
    approvals: Optional[list[dict[str, Any]]] = None
    created_by_actor: Text = None
    override_reason: Text = None
    created_at: Text = None
    started_at: Text = None
    completed_at: Text = None


class PackageList(_Answer):
    packages: list[Package]
    count: int
    limit: int
    offset: int


class PackageCreated(_Answer):
    package: Package
    message: str


class PackageDetail(_Answer):
    package: Package
    recent_actions: list[PackageAction]


class PackageChanged(_Answer):
    message: str
    package_id: str


class PackageActionList(_Answer):
    actions: list[PackageAction]
    count: int


class PackageDeploymentList(_Answer):
    deployments: list[PackageDeployment]
    count: int
    limit: int
    offset: int


class PackageDeploymentAnswer(_Answer):
    """A deploy, a rollback or one package deployment (`message` on the first two)."""

    deployment: PackageDeployment
    message: Text = None


class JobAccepted(_Answer):
    message: str
    job_id: str
    status: str


class JobAcceptedOrWaiting(_Answer):
    """A queued deploy job, or a deployment waiting for approval (`deployment`)."""

    message: str
    job_id: Text = None
    status: Text = None
    deployment: Optional[PackageDeployment] = None


class Job(_Answer):
    job_id: str
    job_type: str
    status: str
    scheduled_at: Text = None
    created_at: Text = None
    started_at: Text = None
    completed_at: Text = None
    updated_at: Text = None
    attempts: Count = None
    job_data: Optional[dict[str, Any]] = None
    result: Optional[dict[str, Any]] = None
    error: Text = None
    cancel_requested: Optional[bool] = None


# -- worker and canary internals ---------------------------------------------------------


class TaskOutcome(_Answer):
    """What a job delivery did (`ignored`, `busy`, or the job's status after the run)."""

    status: str
    reason: Text = None
    job_status: Text = None


class JobSweep(_Answer):
    timed_out: Count = None
    failed: Count = None
    recovered: Count = None


class CanarySweep(_Answer):
    checked: int


class CanaryCheckOutcome(_Answer):
    checked: bool
    status: Text = None


class Discovery(_Answer):
    """The base URLs of the deployq APIs; null where this deployment does not name one."""

    deployments: str
    packages: Optional[str] = None
    canary: Optional[str] = None
