"""Runbooks and notification settings change through here, each change with its event.

Their stores write the record; the event goes to the same outbox as every other change
(`deployq.runbook.created|updated|deleted`, `deployq.settings.updated`) right after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock
from shared.events import EventSink, build_event
from shared.store.policies import NotificationStore
from shared.store.runbooks import RunbookStore

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.governance import RunbookBody


def settings_view(settings: dict[str, Any]) -> dict[str, Any]:
    """Notification settings as events carry them: whether a webhook is set, never its URL
    (the URL is the webhook's credential)."""
    return {"slack_webhook_url": "set" if settings.get("slack_webhook_url") else None}


class Changes:
    """Runbook and settings changes with their events."""

    def __init__(self, events: EventSink, runbooks: RunbookStore, notifications: NotificationStore):
        self.events = events
        self.runbooks = runbooks
        self.notifications = notifications

    def _emit(self, org, type_, subject, before, after, principal, meta) -> None:
        event = build_event(
            org,
            type_,
            subject,
            before,
            after,
            principal=principal,
            meta=meta,
            time=clock.now_text(),
        )
        batch = self.runbooks.db.batch()
        self.events.record(batch, org, [event])
        batch.commit()
        self.events.publish_soon(org, [event])

    def create_runbook(self, org: str, body: RunbookBody, principal: Principal, meta: dict):
        record = self.runbooks.create(org, body, principal)
        subject = f"runbooks/{record['id']}"
        self._emit(org, "deployq.runbook.created", subject, None, record, principal, meta)
        return record

    def replace_runbook(self, org, runbook_id: str, body: RunbookBody, principal, meta):
        before = self.runbooks.get(org, runbook_id)
        record = self.runbooks.replace(org, runbook_id, body)
        subject = f"runbooks/{runbook_id}"
        self._emit(org, "deployq.runbook.updated", subject, before, record, principal, meta)
        return record

    def delete_runbook(self, org: str, runbook_id: str, principal: Principal, meta: dict) -> None:
        before = self.runbooks.get(org, runbook_id)
        self.runbooks.delete(org, runbook_id)
        subject = f"runbooks/{runbook_id}"
        self._emit(org, "deployq.runbook.deleted", subject, before, None, principal, meta)

    def put_notifications(self, org: str, settings: dict, principal: Principal, meta: dict):
        before = self.notifications.get(org)
        after = self.notifications.put(org, settings)
        self._emit(
            org,
            "deployq.settings.updated",
            "settings/notifications",
            settings_view(before),
            settings_view(after),
            principal,
            meta,
        )
        return after
