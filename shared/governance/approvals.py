"""Approvals and freeze windows as the deployment queue enforces them.

`ApprovalGuard` plugs into `DeploymentStore(guard=..., prepare_create=...)`: the approval
state is decided at create from the environment's policy, and a move to `in_progress` or
`deployed` is refused (409 `approval_required` / `freeze_window`) until allowed.
`decide` records an approval or a rejection in one transaction with its event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared import clock
from shared.auth import Principal
from shared.errors import Conflict, Forbidden
from shared.models.deployment import DeploymentPatch, Status, Trigger, transition_error
from shared.models.policy import active_window, freeze_message
from shared.store.deployments import Change, DeploymentStore, check_id
from shared.store.firestore import run_transaction
from shared.store.policies import PolicyStore

GATED = (Status.in_progress, Status.deployed)
PENDING, APPROVED, REJECTED, NOT_REQUIRED = "pending", "approved", "rejected", "not_required"


def actor_of(principal: Principal) -> str:
    return (principal.actor or principal.subject or "").strip()


class ApprovalGuard:
    """The transition guard and create hook of a governed deployment queue."""

    def __init__(self, policies: PolicyStore, now: Callable[[], datetime] = clock.utcnow):
        self.policies = policies
        self.now = now

    def prepare_create(self, transaction, org: str, record: dict[str, Any]) -> None:
        """A deployment created while its environment requires approval is `pending`."""
        record.setdefault("approvals", [])
        if record.get("approval_status") in (PENDING, APPROVED, REJECTED):
            return
        status = NOT_REQUIRED
        if record.get("environment") is not None:
            policy = self.policies.get(org, record["environment"], transaction)
            if policy["requires_approval"]:
                status = PENDING
        record["approval_status"] = status

    def __call__(
        self,
        transaction,
        org: str,
        record: dict[str, Any],
        target: Status,
        patch: DeploymentPatch | None,
        principal: Principal,
    ) -> None:
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
        policy = self.policies.get(org, environment, transaction)
        window = active_window(policy["freeze_windows"], self.now())
        if window is None:
            return
        if patch is not None and patch.override_reason and principal.has_role("admin"):
            return
        raise Conflict(freeze_message(environment, window), code="freeze_window")


def decide(
    store: DeploymentStore,
    policies: PolicyStore,
    org: str,
    deployment_id: str,
    principal: Principal,
    decision: str,
    comment: str | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Approve or reject a pending deployment; returns the updated record.

    Raises NotFound, Forbidden (role, approvers, self-approval) or Conflict (not pending).
    """
    current = store.get(org, check_id(deployment_id))
    policy = policies.get(org, current.get("environment"))
    actor = actor_of(principal)
    allowed = {a.lower() for a in policy["approvers"]}
    if not (principal.has_role(policy["approver_role"]) or actor.lower() in allowed):
        raise Forbidden(
            f"only callers with the {policy['approver_role']} role or listed approvers may "
            f"{'approve' if decision == APPROVED else 'reject'} deployments to "
            f"{current.get('environment')}"
        )
    creator = (current.get("created_by_actor") or "").lower()
    if decision == APPROVED and policy["prevent_self_approval"] and creator == actor.lower():
        raise Forbidden(f"{actor} created deployment {deployment_id} and may not approve it")
    ref = store.collection(org).document(deployment_id)
    changes: list[Change] = []

    def body(transaction):
        before = ref.get(transaction=transaction).to_dict()
        changes.clear()
        status = before.get("approval_status") or NOT_REQUIRED
        if status != PENDING or before["status"] != Status.scheduled.value:
            raise Conflict(
                f"deployment {deployment_id} is not waiting for approval "
                f"(status {before['status']}, approval status {status})",
                code="not_pending",
            )
        now = clock.now_text()
        approvals = list(before.get("approvals") or [])
        entry = {"actor": actor, "decision": decision, "comment": comment, "time": now}
        after = dict(before, updated_at=now)
        if decision == APPROVED:
            if any(
                a["actor"].lower() == actor.lower() and a["decision"] == APPROVED for a in approvals
            ):
                return before  # approving twice does not count twice
            approvals.append(entry)
            distinct = {a["actor"].lower() for a in approvals if a["decision"] == APPROVED}
            if len(distinct) >= policy["min_approvals"]:
                after["approval_status"] = APPROVED
        else:
            problem = transition_error(Status(before["status"]), Status.skipped)
            if problem:
                raise Conflict(problem, code="invalid_transition")
            approvals.append(entry)
            note = f"Rejected by {actor}: {comment}"
            after.update(
                approval_status=REJECTED,
                status=Status.skipped.value,
                status_changed_at=now,
                notes=f"{before['notes']}\n{note}" if before.get("notes") else note,
            )
        after["approvals"] = approvals
        store.write(transaction, org, before, after)
        change = Change(f"deployq.deployment.{decision}", deployment_id, before, after)
        change.extra["comment"] = comment
        changes.append(change)
        if store.write_changes:
            store.write_changes(transaction, org, changes, principal, meta)
        return after

    result = run_transaction(store.db, body)
    if store.publish_changes and changes:
        store.publish_changes(org, changes)
    return result
