"""Canary rollouts of Cloud Run revisions: enums, the status machine, start decisions, the
public view. Plain Python; the request and response shapes are in `shared.schemas.canary`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Optional


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


# The API's fields of a canary, in order (`shared.schemas.canary.Canary` has exactly
# these; a test holds the two together).
PUBLIC_FIELDS = (
    "id",
    "organisation",
    "status",
    "strategy",
    "project",
    "region",
    "service",
    "canary_revision",
    "stable_revision",
    "deployment_id",
    "environment",
    "steps",
    "step_minutes",
    "interval_seconds",
    "thresholds",
    "on_no_data",
    "delete_canary_on_rollback",
    "compare_to_stable",
    "consecutive_error_limit",
    "verify",
    "reason",
    "traffic_percent",
    "step",
    "tag",
    "check_count",
    "next_check_at",
    "started_at",
    "ended_at",
    "deployment_error",
    "deployment_sync_pending",
    "created_by_actor",
    "checks",
    "created_at",
    "updated_at",
)


def public(record: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API view of a stored canary; `checks` oldest first (lists pass the last one)."""
    view = {name: record.get(name) for name in PUBLIC_FIELDS if name != "checks"}
    view["step"] = record.get("step_index", -1) + 1
    view["checks"] = checks if checks is not None else []
    return view
