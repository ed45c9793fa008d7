"""Approvals and freeze windows: one service deciding who may move what, and recording
approvals and rejections.

The deployment queue asks it what approval state a new record starts in
(`approval_fields`) and whether a move to `in_progress` or `deployed` is allowed
(`check_move`: 409 `approval_required` / `freeze_window`). `decide` records an approval
or a rejection through the deployment store, under the taxonomy's lock, in one
transaction with its event.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared import clock
from shared.errors import Conflict, Forbidden
from shared.events import EventSink, build_event
from shared.governance.policies import Policies
from shared.models.deployment import Status, Trigger, public, transition_error
from shared.models.policy import active_window, freeze_message
from shared.store.deployments import DeploymentStore, check_id
from shared.store.firestore import run_transaction

if TYPE_CHECKING:
    from shared.auth import Principal


class Persons(Protocol):
    """Who is the same person: `shared.organisations.service.OrganisationService`."""

    def person_key(self, principal: Principal) -> str: ...

    def person_of_actor(self, org: str, actor: str) -> str | None: ...


GATED = (Status.in_progress, Status.deployed)
PENDING, APPROVED, REJECTED, NOT_REQUIRED = "pending", "approved", "rejected", "not_required"
APPROVAL_REQUESTED = "deployq.approval.requested"


@dataclass(frozen=True)
class Target:
    """What approvals decide on (queue deployments, package deployments): how to read and
    write one record, the status a waiting record has and what a rejection makes of it."""

    kind: str  # the event and resource kind: `deployment`, `package_deployment`
    waiting: str  # the status of a record waiting for approval
    db: Any
    get: Callable[[str, str], dict]  # (org, id) -> record, NotFound
    read: Callable[[Any, str, str], dict]  # (transaction, org, id) -> record
    write: Callable[[Any, str, dict, dict], None]  # (transaction, org, before, after)
    public: Callable[[dict], dict]
    rejected: Callable[[dict, str, str | None, str], dict]  # (before, actor, comment, now)
    lock: Callable[[str, dict], AbstractContextManager]  # (org, record)


def rejected_deployment(before: dict, actor: str, comment: str | None, now: str) -> dict:
    """A rejected queue deployment is skipped, the rejecter and comment in its notes."""
    problem = transition_error(Status(before["status"]), Status.skipped)
    if problem:
        raise Conflict(problem, code="invalid_transition")
    note = f"Rejected by {actor}: {comment}"
    return {
        "status": Status.skipped.value,
        "status_changed_at": now,
        "notes": f"{before['notes']}\n{note}" if before.get("notes") else note,
    }


def actor_of(principal: Principal) -> str:
    return (principal.actor or principal.subject or "").strip()


def check_decider(
    policy: dict,
    record: dict,
    principal: Principal,
    decision: str,
    me: str | None = None,
    person_of: Callable[[str], str | None] = str.lower,
) -> None:
    """Forbidden unless `principal` may approve/reject `record` under `policy`.

    Self-approval compares persons: `me` is the caller's person and `person_of` maps a
    stored actor to its person (by default an actor is a person of its own)."""
    actor = actor_of(principal)
    me = actor.lower() if me is None else me
    allowed = {a.lower() for a in policy["approvers"]}
    if not (principal.has_role(policy["approver_role"]) or actor.lower() in allowed):
        raise Forbidden(
            f"only callers with the {policy['approver_role']} role or listed approvers may "
            f"{'approve' if decision == APPROVED else 'reject'} deployments to "
            f"{record.get('environment')}"
        )
    creator = record.get("created_by_actor")
    if decision == APPROVED and policy["prevent_self_approval"] and creator:
        if person_of(creator) == me:
            who = actor if creator.lower() == actor.lower() else f"{actor} (as {creator})"
            raise Forbidden(f"{who} created {record['id']} and may not approve it")


def may_approve(
    policy: dict,
    record: dict,
    principal: Principal,
    me: str | None = None,
    person_of: Callable[[str], str | None] = str.lower,
) -> bool:
    """Whether `principal` may approve `record` now: it waits, they may decide it, and
    they have not approved it already (under any credential)."""
    if (record.get("approval_status") or NOT_REQUIRED) != PENDING:
        return False
    try:
        check_decider(policy, record, principal, APPROVED, me, person_of)
    except Forbidden:
        return False
    me = actor_of(principal).lower() if me is None else me
    return not any(
        person_of(a["actor"]) == me and a["decision"] == APPROVED
        for a in record.get("approvals") or []
    )


def decided(
    before: dict,
    policy: dict,
    actor: str,
    decision: str,
    comment: str | None,
    now: str,
    me: str | None = None,
    person_of: Callable[[str], str | None] = str.lower,
    waiting: str = Status.scheduled.value,
    rejected: Callable[[dict, str, str | None, str], dict] = rejected_deployment,
) -> dict | None:
    """The record after `actor`'s decision; None when it changes nothing (a repeated
    approval, by any credential of the same person). Approvals count distinct persons
    (`me`, `person_of` as in `check_decider`). Conflict when the record is not waiting
    for approval."""
    me = actor.lower() if me is None else me
    status = before.get("approval_status") or NOT_REQUIRED
    if status != PENDING or before["status"] != waiting:
        raise Conflict(
            f"{before['id']} is not waiting for approval "
            f"(status {before['status']}, approval status {status})",
            code="not_pending",
        )
    approvals = list(before.get("approvals") or [])
    entry = {"actor": actor, "decision": decision, "comment": comment, "time": now}
    after = dict(before, updated_at=now)
    if decision == APPROVED:
        if any(person_of(a["actor"]) == me and a["decision"] == APPROVED for a in approvals):
            return None  # approving twice does not count twice
        approvals.append(entry)
        distinct = {person_of(a["actor"]) for a in approvals if a["decision"] == APPROVED}
        if len(distinct) >= policy["min_approvals"]:
            after["approval_status"] = APPROVED
    else:
        after.update(rejected(before, actor, comment, now))
        approvals.append(entry)
        after["approval_status"] = REJECTED
    after["approvals"] = approvals
    return after


class Approvals:
    """Approval state, the approval and freeze-window gate, and approval decisions."""

    def __init__(
        self,
        policies: Policies,
        deployments: DeploymentStore,
        events: EventSink,
        now: Callable[[], datetime] = clock.utcnow,
        persons: Persons | None = None,
    ):
        self.policies = policies
        self.deployments = deployments
        self.events = events
        self.now = now
        self.persons = persons

    def persons_of(self, org: str, principal: Principal):
        """(the caller's person, stored actor -> person) in `org`; without a person
        directory every actor is a person of its own."""
        if self.persons is None:
            return actor_of(principal).lower(), str.lower
        persons = self.persons
        return persons.person_key(principal), lambda actor: persons.person_of_actor(org, actor)

    def approval_fields(self, org: str, record: dict[str, Any], transaction=None) -> dict:
        """The approval state a new record starts in: `pending` while its environment's
        policy requires approval, else `not_required` (a state already given is kept)."""
        approvals = list(record.get("approvals") or [])
        if record.get("approval_status") in (PENDING, APPROVED, REJECTED):
            return {"approvals": approvals, "approval_status": record["approval_status"]}
        status = NOT_REQUIRED
        if record.get("environment") is not None:
            policy = self.policies.get(org, record["environment"], transaction)
            if policy["requires_approval"]:
                status = PENDING
        return {"approvals": approvals, "approval_status": status}

    def check_move(
        self,
        org: str,
        record: dict[str, Any],
        target: Status,
        principal: Principal,
        override_reason: str | None = None,
        transaction=None,
    ) -> None:
        """Conflict when `record` may not move to `target` yet: `approval_required` until
        approved, `freeze_window` inside a window (an admin's `override_reason` passes)."""
        if target not in GATED:
            return
        approval = record.get("approval_status") or NOT_REQUIRED
        if approval in (PENDING, REJECTED):
            raise Conflict(
                f"deployment {record['id']} needs approval before it can move to {target.value} "
                f"(approval status: {approval}); approve it with "
                f"POST /v1/deployments/{record['id']}/approve",
                code="approval_required",
            )
        environment = record.get("environment")
        # Rollbacks restore service and system moves finish work already let through.
        if environment is None or record.get("trigger") == Trigger.rollback.value:
            return
        if principal.kind == "internal":
            return
        self.check_freeze(org, environment, principal, override_reason, transaction)

    def requires_approval(self, org: str, environment: str) -> bool:
        return bool(self.policies.get(org, environment)["requires_approval"])

    def check_freeze(
        self,
        org: str,
        environment: str,
        principal: Principal | None,
        override_reason: str | None = None,
        transaction=None,
    ) -> None:
        """Conflict `freeze_window` while a freeze window of `environment` is open, unless an
        admin gives `override_reason` (`principal` None: a job that an admin's override
        already let through passes with its `override_reason`)."""
        policy = self.policies.get(org, environment, transaction)
        window = active_window(policy["freeze_windows"], self.now())
        if window is None:
            return
        if override_reason and (principal is None or principal.has_role("admin")):
            return
        raise Conflict(freeze_message(environment, window), code="freeze_window")

    def can_approve(self, org: str, record: dict, principal: Principal, policies=None) -> bool:
        """Whether the caller may approve `record` now (persons compared); `policies` caches
        the environments' policies across calls."""
        policies = {} if policies is None else policies
        environment = record.get("environment")
        if environment not in policies:
            policies[environment] = self.policies.get(org, environment)
        me, person_of = self.persons_of(org, principal)
        return may_approve(policies[environment], record, principal, me, person_of)

    def requested_event(
        self, org: str, kind: str, record: dict, public: dict, principal, meta
    ) -> dict[str, Any]:
        """`deployq.approval.requested` for `record`, naming who may approve it."""
        policy = self.policies.get(org, record["environment"])
        return build_event(
            org,
            APPROVAL_REQUESTED,
            f"{kind}s/{record['id']}",
            None,
            public,
            principal=principal,
            meta=meta,
            extra={
                "kind": kind,
                "environment": record["environment"],
                "approver_role": policy["approver_role"],
                "approvers": list(policy["approvers"]),
                "min_approvals": policy["min_approvals"],
            },
        )

    def deployment_target(self) -> Target:
        store = self.deployments
        return Target(
            kind="deployment",
            waiting=Status.scheduled.value,
            db=store.db,
            get=lambda org, id_: store.get(org, check_id(id_)),
            read=lambda tx, org, id_: store.snapshot(org, id_, tx).to_dict(),
            write=store.write,
            public=public,
            rejected=rejected_deployment,
            lock=lambda org, record: store.lock(org, record["taxonomy_key"]),
        )

    def decide(
        self,
        org: str,
        deployment_id: str,
        principal: Principal,
        decision: str,
        comment: str | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        """Approve or reject a pending deployment; returns the updated record."""
        return self.decide_on(
            self.deployment_target(), org, deployment_id, principal, decision, comment, meta
        )

    def decide_on(
        self,
        target: Target,
        org: str,
        record_id: str,
        principal: Principal,
        decision: str,
        comment: str | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        """Approve or reject a pending record of `target`; returns the updated record.

        Raises NotFound, Forbidden (role, approvers, self-approval) or Conflict (not pending).
        """
        current = target.get(org, record_id)
        policy = self.policies.get(org, current.get("environment"))
        me, person_of = self.persons_of(org, principal)
        check_decider(policy, current, principal, decision, me, person_of)
        actor = actor_of(principal)

        def record_decision(transaction) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            before = target.read(transaction, org, record_id)
            after = decided(
                before,
                policy,
                actor,
                decision,
                comment,
                clock.now_text(),
                me,
                person_of,
                target.waiting,
                target.rejected,
            )
            if after is None:
                return before, []
            target.write(transaction, org, before, after)
            event = build_event(
                org,
                f"deployq.{target.kind}.{decision}",
                f"{target.kind}s/{record_id}",
                target.public(before),
                target.public(after),
                principal=principal,
                meta=meta,
                extra={"comment": comment},
            )
            self.events.record(transaction, org, [event])
            return after, [event]

        with target.lock(org, current):
            result, events = run_transaction(target.db, record_decision)
        self.events.publish_soon(org, events)
        return result
