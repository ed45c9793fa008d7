"""The governed deployment queue and its companions, built lazily from Settings.

Every function that changes deployments (deployments, canary, worker) builds its
`DeploymentStore` here, so approvals, freeze windows and events apply to all of them.
"""

from __future__ import annotations

from functools import cached_property

from shared.config import Settings
from shared.events import EventSink, build_event, event_sink
from shared.google.clients import Lazy
from shared.governance.approvals import ApprovalGuard
from shared.governance.policies import Policies
from shared.models.deployment import public
from shared.store import firestore as fs
from shared.store.audit import AuditStore
from shared.store.deployments import DeploymentStore
from shared.store.dora import DoraStore
from shared.store.policies import NotificationStore, PolicyStore
from shared.store.runbooks import RunbookStore


class Governance:
    """One per process: clients and stores are created on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self):
        return fs.client(self.settings.project, self.settings.firestore_database)

    @cached_property
    def events(self) -> EventSink:
        return event_sink(self.settings)

    @property
    def outbox(self) -> EventSink:
        return self.events

    @cached_property
    def policies(self) -> Policies:
        return Policies(PolicyStore(self.db), self.events)

    @cached_property
    def guard(self) -> ApprovalGuard:
        return ApprovalGuard(self.policies)

    @cached_property
    def deployments(self) -> DeploymentStore:
        sink = self.events

        def write_changes(transaction, org, changes, principal, meta):
            for change in changes:
                if getattr(change, "event", None) is None:
                    change.event = build_event(
                        org,
                        change.type,
                        f"deployments/{change.deployment_id}",
                        None if change.before is None else public(change.before),
                        public(change.after),
                        principal=principal,
                        meta=meta,
                        extra=change.extra,
                    )
            sink.record(transaction, org, [c.event for c in changes])

        def publish_changes(org, changes):
            sink.publish_soon(org, [c.event for c in changes if getattr(c, "event", None)])

        return DeploymentStore(
            self.db,
            guard=self.guard,
            write_changes=write_changes,
            publish_changes=publish_changes,
            prepare_create=self.guard.prepare_create,
        )

    @cached_property
    def audit(self) -> AuditStore:
        return AuditStore(self.db)

    @cached_property
    def dora(self) -> DoraStore:
        return DoraStore(self.db)

    @cached_property
    def runbooks(self) -> RunbookStore:
        return RunbookStore(self.db)

    @cached_property
    def notifications(self) -> NotificationStore:
        return NotificationStore(self.db)


# The process's services of a configuration.
governance_for = Lazy(Governance, key=id)
