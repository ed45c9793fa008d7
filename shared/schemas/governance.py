"""Governance models: policies and freeze windows, approvals, audit log, DORA, runbooks."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared import clock
from shared.config import ROLES
from shared.models.policy import minutes

Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256)]
OptionalName = Optional[Annotated[str, StringConstraints(strict=True, max_length=256)]]
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class FreezeWindow(BaseModel):
    """A one-off range (`start`, `end` RFC 3339) or a weekly window (`days`, times, `time_zone`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: Name
    start: Optional[str] = Field(default=None, description="one-off: RFC 3339 start (inclusive)")
    end: Optional[str] = Field(default=None, description="one-off: RFC 3339 end (exclusive)")
    days: Optional[list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]] = Field(
        default=None, description="weekly: days of the week"
    )
    start_time: Optional[str] = Field(default=None, description="weekly: HH:MM local time")
    end_time: Optional[str] = Field(default=None, description="weekly: HH:MM local time, 24:00 ok")
    time_zone: Optional[str] = Field(default=None, description="weekly: IANA time zone")

    @model_validator(mode="after")
    def _shape(self) -> FreezeWindow:
        if self.days is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("a weekly window has days/start_time/end_time, not start/end")
            if not self.days:
                raise ValueError("days must list at least one of mon..sun")
            for name in ("start_time", "end_time"):
                value = getattr(self, name)
                if not isinstance(value, str) or not HHMM.match(value):
                    raise ValueError(f"{name} must be HH:MM (00:00 to 24:00)")
            if self.start_time == "24:00":
                raise ValueError("start_time must be before 24:00")
            if minutes(self.end_time) <= minutes(self.start_time):
                raise ValueError("end_time must be later than start_time")
            try:
                ZoneInfo(self.time_zone or "UTC")
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time_zone {self.time_zone!r}") from None
            if self.time_zone is None:
                self.time_zone = "UTC"
            return self
        if self.start is None or self.end is None:
            raise ValueError("a window needs start and end (one-off) or days (weekly)")
        if any(v is not None for v in (self.start_time, self.end_time, self.time_zone)):
            raise ValueError("start_time/end_time/time_zone belong to weekly windows (with days)")
        try:
            start, end = clock.parse(self.start), clock.parse(self.end)
        except ValueError as exc:
            raise ValueError(f"start and end must be RFC 3339 timestamps: {exc}") from None
        if end <= start:
            raise ValueError("end must be after start")
        return self


class PolicyBody(BaseModel):
    """Body of `PUT /v1/policies/{environment}`; omitted fields take their defaults."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    requires_approval: bool = False
    min_approvals: int = Field(default=1, ge=1, le=20)
    approver_role: str = "approver"
    approvers: list[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256)]
    ] = Field(default_factory=list, max_length=200)
    prevent_self_approval: bool = True
    freeze_windows: list[FreezeWindow] = Field(default_factory=list, max_length=100)

    @field_validator("approver_role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}; use one of {', '.join(ROLES)}")
        return value


class Policy(PolicyBody):
    """An environment's policy as the API returns it."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    environment: str
    updated_at: Optional[str] = None
    updated_by: Optional[str] = None


class ApproveBody(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    comment: Optional[Annotated[str, StringConstraints(strict=True, max_length=2000)]] = None


class RejectBody(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    comment: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2000)]


# -- audit log --------------------------------------------------------------------


def _timestamp(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    return clock.normalise(value)


class AuditQuery(BaseModel):
    """Filters of `GET /v1/audit-logs` (and the CSV export)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    actor: OptionalName = None
    action: OptionalName = None
    resource_type: OptionalName = None
    resource_id: OptionalName = None
    resource: OptionalName = Field(default=None, description="same as resource_id")
    from_: Optional[str] = Field(default=None, alias="from", description="RFC 3339, inclusive")
    to: Optional[str] = Field(default=None, description="RFC 3339, exclusive")
    limit: int = Field(default=100, ge=1, le=1000)
    page_token: Optional[Annotated[str, StringConstraints(max_length=512)]] = None

    @field_validator("from_", "to")
    @classmethod
    def _rfc3339(cls, value: Optional[str]) -> Optional[str]:
        return _timestamp(value)

    def filters(self) -> dict[str, Any]:
        names = ("actor", "action", "resource_type", "resource_id")
        filters = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if self.resource is not None and self.resource_id is None:
            filters["resource_id"] = self.resource
        return filters


class AuditEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    event_id: str
    time: str
    organisation: Optional[str] = None
    actor: Optional[str] = None
    principal_kind: Optional[str] = None
    subject: Optional[str] = None
    repository: Optional[str] = None
    workflow: Optional[str] = None
    action: str
    resource_type: str
    resource_id: str
    before: Optional[dict[str, Any]] = None
    after: Optional[dict[str, Any]] = None
    changed_fields: list[str] = Field(default_factory=list)
    comment: Optional[str] = None
    override_reason: Optional[str] = None
    on_behalf_of: Optional[str] = None
    ip: Optional[str] = None
    user_agent: Optional[str] = None


class ApprovalQuery(BaseModel):
    """Filters of `GET /v1/approvals` (the approval inbox)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    status: Literal["pending", "approved", "rejected"] = "pending"
    limit: int = Field(default=100, ge=1, le=1000)
    page_token: Optional[Annotated[str, StringConstraints(max_length=512)]] = None


class ApprovalItem(BaseModel):
    """One item of the approval inbox: a deployment or a package deployment."""

    model_config = ConfigDict(defer_build=True)

    kind: Literal["deployment", "package_deployment"]
    id: str
    environment: Optional[str] = None
    name: Optional[str] = None
    version: Optional[str] = None
    package_id: Optional[str] = None
    created_by: Optional[str] = None
    created_at: Optional[str] = None
    approval_status: str
    approvals: list[dict[str, Any]] = Field(default_factory=list)
    min_approvals: int
    can_approve: bool


# -- DORA -------------------------------------------------------------------------


class DoraQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    environment: OptionalName = None
    name: OptionalName = None
    days: int = Field(default=30, ge=1, le=365)


class Frequency(BaseModel):
    model_config = ConfigDict(defer_build=True)

    deployments: int
    per_day: float
    bucket: str


class Median(BaseModel):
    model_config = ConfigDict(defer_build=True)

    median_seconds: Optional[float] = None
    bucket: Optional[str] = None


class FailureRate(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rate: Optional[float] = None
    failed: int
    rolled_back: int
    finished: int
    bucket: Optional[str] = None


class DoraMetrics(BaseModel):
    model_config = ConfigDict(defer_build=True)

    days: int
    environment: Optional[str] = None
    name: Optional[str] = None
    deployment_frequency: Frequency
    lead_time: Median
    change_failure_rate: FailureRate
    time_to_restore: Median


class DoraDay(BaseModel):
    model_config = ConfigDict(defer_build=True)

    date: str
    deployments: int
    failed: int
    rolled_back: int
    finished: int
    change_failure_rate: Optional[float] = None
    lead_time_median_seconds: Optional[float] = None
    time_to_restore_median_seconds: Optional[float] = None


class DoraTrends(BaseModel):
    model_config = ConfigDict(defer_build=True)

    days: int
    environment: Optional[str] = None
    name: Optional[str] = None
    trends: list[DoraDay]


class DoraGroup(DoraMetrics):
    key: Optional[str] = Field(default=None, description="the service name or environment")


# -- runbooks ---------------------------------------------------------------------


class RunbookBody(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    title: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=300)]
    content: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200_000)]
    service: OptionalName = None
    environment: OptionalName = None
    tags: list[Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]] = (
        Field(default_factory=list, max_length=50)
    )


class Runbook(RunbookBody):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: str
    created_at: str
    updated_at: str
    created_by: Optional[str] = None


class RunbookQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    q: Optional[Annotated[str, StringConstraints(max_length=500)]] = None
    service: OptionalName = None
    environment: OptionalName = None
    tag: OptionalName = None


# -- notifications ----------------------------------------------------------------


class NotificationSettings(BaseModel):
    """Where failures and rollbacks of an organisation are announced (Slack-compatible)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    slack_webhook_url: Optional[
        Annotated[str, StringConstraints(strict=True, max_length=2048, pattern=r"^https?://")]
    ] = None

    @field_validator("slack_webhook_url")
    @classmethod
    def _webhook_url(cls, value: Optional[str]) -> Optional[str]:
        from shared.webhooks import url_problem

        problem = url_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"the webhook URL {problem}")
        return value


class SweepResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    published: int
    failed: int = 0
