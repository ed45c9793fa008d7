"""The governed deployment queue and its companions, built lazily from Settings.

Every function that changes deployments (deployments, canary, worker) builds its
`DeploymentStore` here, so approvals, freeze windows and events apply to all of them.
"""

from __future__ import annotations

from functools import cached_property

from shared.config import Settings
from shared.events import EventPublisher, Outbox
from shared.governance.approvals import ApprovalGuard
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
    def outbox(self) -> Outbox:
        topic = self.settings.events_topic
        publisher = EventPublisher(self.settings.project, topic) if topic else None
        return Outbox(self.db, publisher)

    @cached_property
    def policies(self) -> PolicyStore:
        return PolicyStore(self.db, self.outbox)

    @cached_property
    def guard(self) -> ApprovalGuard:
        return ApprovalGuard(self.policies)

    @cached_property
    def deployments(self) -> DeploymentStore:
        return DeploymentStore(
            self.db,
            guard=self.guard,
            write_changes=self.outbox.write_changes,
            publish_changes=self.outbox.publish_changes,
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


_instances: dict[int, Governance] = {}


def governed_deployment_store(settings: Settings) -> DeploymentStore:
    """The deployment store with approvals, freeze windows and the events outbox wired in."""
    return governance_for(settings).deployments


def governance_for(settings: Settings) -> Governance:
    key = id(settings)
    if key not in _instances:
        _instances[key] = Governance(settings)
    return _instances[key]
