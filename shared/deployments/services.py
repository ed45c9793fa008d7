"""The services of one configuration, wired once per process and made on first use.

Every function that changes deployments (deployments, canary, worker) takes its queue
from here, so approvals, freeze windows and events apply to all of them:

    services = services_for(settings)
    services.deployments.update(org, deployment_id, patch, principal, ctx.meta)
"""

from __future__ import annotations

from shared.config import Settings
from shared.deployments.queue import DeploymentQueue
from shared.deployments.rollback import Rollbacks
from shared.events import event_sink
from shared.governance.approvals import Approvals
from shared.governance.changes import Changes
from shared.governance.dora import DoraService
from shared.governance.inbox import Inbox
from shared.governance.policies import Policies
from shared.lazy import Lazy
from shared.organisations.service import organisations_for
from shared.store import firestore as fs
from shared.store.audit import AuditStore
from shared.store.deployments import DeploymentStore
from shared.store.dora import DoraStore
from shared.store.packages import PackageStore
from shared.store.policies import NotificationStore, PolicyStore
from shared.store.runbooks import RunbookStore


class Services:
    """The queue, governance services and stores of one database."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = fs.client(settings.project, settings.firestore_database)
        self.events = event_sink(settings)
        self.policies = Policies(PolicyStore(self.db), self.events)
        self.deployment_store = DeploymentStore(self.db)
        # Approvals compare persons (one member, several credentials).
        self.approvals = Approvals(
            self.policies,
            self.deployment_store,
            self.events,
            persons=organisations_for(settings),
        )
        self.inbox = Inbox(self.approvals, self.deployment_store, PackageStore(self.db))
        self.deployments = DeploymentQueue(self.deployment_store, self.events, self.approvals)
        self.rollbacks = Rollbacks(self.deployments)
        self.audit = AuditStore(self.db)
        self.dora = DoraService(DoraStore(self.db))
        self.runbooks = RunbookStore(self.db)
        self.notifications = NotificationStore(self.db)
        self.changes = Changes(self.events, self.runbooks, self.notifications)


# The process's services of a configuration: `services_for(settings)`.
services_for = Lazy(Services, key=id)
