"""Canary rollouts of Cloud Run revisions: enums, request body, record, status machine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

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


class Strategy(str, Enum):
    canary = "canary"
    blue_green = "blue_green"
    all_at_once = "all_at_once"


class CanaryStatus(str, Enum):
    progressing = "progressing"
    held = "held"
    promoted = "promoted"
    rolled_back = "rolled_back"
    aborted = "aborted"
    failed = "failed"


class OnNoData(str, Enum):
    rollback = "rollback"
    hold = "hold"


class Verdict(str, Enum):
    healthy = "Healthy"
    unhealthy = "Unhealthy"
    inconclusive = "Inconclusive"


ACTIVE = frozenset({CanaryStatus.progressing, CanaryStatus.held})
FINAL = frozenset(
    {CanaryStatus.promoted, CanaryStatus.rolled_back, CanaryStatus.aborted, CanaryStatus.failed}
)
# The whole status machine: from -> statuses it may move to. Final statuses move nowhere.
TRANSITIONS: dict[CanaryStatus, frozenset[CanaryStatus]] = {
    CanaryStatus.progressing: frozenset(
        {
            CanaryStatus.held,
            CanaryStatus.promoted,
            CanaryStatus.rolled_back,
            CanaryStatus.aborted,
            CanaryStatus.failed,
        }
    ),
    CanaryStatus.held: frozenset({CanaryStatus.promoted, CanaryStatus.aborted}),
    **{status: frozenset() for status in FINAL},
}


def transition_error(current: CanaryStatus, target: CanaryStatus) -> str | None:
    """None when a canary may move `current` -> `target`, else the sentence saying why not."""
    if target in TRANSITIONS[current]:
        return None
    if current in FINAL:
        return f"the canary is already {current.value}; nothing changes the service any more"
    return f"a {current.value} canary cannot become {target.value}"


class StartOutcome(str, Enum):
    start = "start"  # a new candidate: roll it out from the first step
    conflict = "conflict"  # another rollout of this service is active
    rejected = "rejected"  # the candidate was rolled back or aborted before: no change


@dataclass(frozen=True)
class StartDecision:
    outcome: StartOutcome
    reason: str


def start_decision(
    canary_revision: str,
    active: Mapping[str, Any] | None,
    rejected: Mapping[str, Any] | None,
) -> StartDecision:
    """May a rollout of `canary_revision` start, given the service's active and rejected canaries?

    A candidate deployq (or a person) already rolled back never rolls out again; a new
    candidate, even after an earlier candidate's rollout ended, starts from step 1.
    """
    if rejected is not None:
        return StartDecision(
            StartOutcome.rejected,
            f"revision {canary_revision} was {rejected['status']} by canary {rejected['id']}"
            f" ({rejected.get('reason') or 'no reason recorded'}); deploy a new revision instead",
        )
    if active is not None:
        same = active["canary_revision"] == canary_revision
        what = "this revision" if same else f"revision {active['canary_revision']}"
        return StartDecision(
            StartOutcome.conflict,
            f"canary {active['id']} is already {active['status']} for {what} of this service;"
            " promote or abort it first",
        )
    return StartDecision(StartOutcome.start, f"new candidate {canary_revision}: starting at step 1")


@dataclass(frozen=True)
class Sample:
    """One revision's figures over a window; None where Monitoring had nothing to say."""

    request_count: Optional[int] = None
    error_rate_pct: Optional[float] = None
    p95_ms: Optional[float] = None
    p99_ms: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Environment -> strategy when a request names none.
DEFAULT_STRATEGY = {"dev": Strategy.all_at_once, "staging": Strategy.blue_green}


def default_strategy(environment: str | None) -> Strategy:
    """dev -> all_at_once, staging -> blue_green, anything else (or none) -> canary."""
    return DEFAULT_STRATEGY.get((environment or "").lower(), Strategy.canary)


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


PUBLIC_FIELDS = tuple(Canary.model_fields)


def public(record: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API view of a stored canary; `checks` oldest first (lists pass the last one)."""
    view = {name: record.get(name) for name in PUBLIC_FIELDS if name != "checks"}
    view["step"] = record.get("step_index", -1) + 1
    view["checks"] = checks if checks is not None else []
    return view


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
