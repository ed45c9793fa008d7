"""Canary rollouts' request and response shapes (pydantic, published in OpenAPI)."""

from __future__ import annotations

import re
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from shared.models.canary import CanaryStatus, OnNoData, Strategy, Verdict
from shared.models.ids import ORG_PATTERN

ShortText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256)]
OptionalShort = Optional[Annotated[str, StringConstraints(strict=True, max_length=256)]]
# Cloud Run names: project ids, regions, services and revisions (short names, not paths).
ResourceName = Annotated[
    str,
    StringConstraints(
        strict=True, min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9._:-]*$"
    ),
]


HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]*$")


class Thresholds(BaseModel):
    """Fixed limits: a figure strictly greater than its limit breaks it."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    max_error_rate_pct: float = Field(default=1.0, ge=0, le=100)
    max_p95_ms: float = Field(default=60000, gt=0)
    max_p99_ms: float = Field(default=120000, gt=0)
    min_requests: int = Field(default=100, ge=1)


class CompareToStable(BaseModel):
    """Judge the canary against the live stable revision: margins in points / percent."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    error_rate_margin_pct: Optional[float] = Field(default=None, ge=0)
    p99_margin_pct: Optional[float] = Field(default=None, ge=0)


class Verify(BaseModel):
    """Pre-traffic check: GET <tag URL><path> must answer 2xx within the timeout."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    path: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=1024)] = "/"
    timeout_seconds: float = Field(default=10, gt=0, le=300)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not HEALTH_PATH.match(value):
            raise ValueError("must be an absolute URL path such as /healthz")
        return value


class CanaryCreate(BaseModel):
    """Body of `POST /v1/canaries`."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    project: ResourceName
    region: ResourceName
    service: ResourceName
    canary_revision: ResourceName
    stable_revision: Optional[ResourceName] = None
    deployment_id: OptionalShort = None
    environment: OptionalShort = None
    strategy: Optional[Strategy] = None
    steps: list[int] = Field(default_factory=lambda: [10], min_length=1, max_length=20)
    step_minutes: float = Field(default=15, gt=0, le=7 * 24 * 60)
    interval_seconds: float = Field(default=60, ge=1, le=3600)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    on_no_data: OnNoData = OnNoData.rollback
    delete_canary_on_rollback: StrictBool = True
    compare_to_stable: Optional[CompareToStable] = None
    consecutive_error_limit: int = Field(default=4, ge=1, le=1000)
    verify: Optional[Verify] = None
    override_reason: Optional[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2000)]
    ] = Field(default=None, description="admin only: passes a freeze window, recorded")

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        for step in steps:
            if isinstance(step, bool) or not 1 <= step <= 99:
                raise ValueError("every step is a traffic percentage from 1 to 99")
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("steps must be strictly ascending")
        return steps


class PromoteBody(BaseModel):
    """Body of `POST /v1/canaries/{id}/promote` (optional)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    override_reason: Optional[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2000)]
    ] = Field(default=None, description="admin only: passes a freeze window, recorded")


class Figures(BaseModel):
    """What one revision did in a check's window; a figure that could not be read is null."""

    model_config = ConfigDict(defer_build=True)

    request_count: Optional[int] = None
    error_rate_pct: Optional[float] = None
    p95_ms: Optional[float] = None
    p99_ms: Optional[float] = None


class Window(BaseModel):
    model_config = ConfigDict(defer_build=True)

    start: str
    end: str


class Check(BaseModel):
    """One check: the window, both revisions' figures, the verdict, why, and what deployq did."""

    model_config = ConfigDict(defer_build=True)

    number: int
    at: str
    window: Window
    request_count: Optional[int] = None
    error_rate_pct: Optional[float] = None
    p95_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    stable: Figures
    verdict: Verdict
    reason: str
    action: str = Field(description="what deployq did: none, advance, promote, rollback, hold")
    decision: Optional[str] = Field(default=None, description="why deployq did it, in one line")
    traffic_percent: int = Field(description="the canary's traffic share after the check")


class Canary(BaseModel):
    """A canary rollout as the API returns it."""

    model_config = ConfigDict(defer_build=True)

    id: str
    organisation: str
    status: CanaryStatus
    strategy: Strategy
    project: str
    region: str
    service: str
    canary_revision: str
    stable_revision: str
    deployment_id: Optional[str] = None
    environment: Optional[str] = None
    steps: list[int]
    step_minutes: float
    interval_seconds: float
    thresholds: Thresholds
    on_no_data: OnNoData
    delete_canary_on_rollback: bool
    compare_to_stable: Optional[CompareToStable] = None
    consecutive_error_limit: int
    verify: Optional[Verify] = None
    reason: Optional[str] = None
    traffic_percent: int = 0
    step: int = Field(default=0, description="1-based step being served; 0 before traffic moves")
    tag: Optional[str] = None
    check_count: int = 0
    next_check_at: Optional[str] = None
    started_at: Optional[str] = None
    ended_at: Optional[str] = None
    deployment_error: Optional[str] = None
    deployment_sync_pending: bool = Field(
        default=False,
        description="the linked deployment's update failed for a passing reason; "
        "the sweep retries it",
    )
    created_by_actor: Optional[str] = None
    checks: list[Check] = Field(default_factory=list)
    created_at: str
    updated_at: str


class ListQuery(BaseModel):
    """Query of `GET /v1/canaries`."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    status: Optional[CanaryStatus] = None
    limit: int = Field(default=100, ge=1, le=1000)


class CheckRequest(BaseModel):
    """Body of the internal check route (a Cloud Task)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    organisation: Annotated[str, StringConstraints(strict=True, pattern=ORG_PATTERN)]
    check: Optional[int] = Field(default=None, ge=1)
