"""What the events function does with one message: audit entry, DORA aggregates, metric
log lines, custom metrics, notification.

Handling is idempotent on the event id: the audit entry is created once (its document id
derives from the event id), the DORA aggregates are keyed by deployment, and the metric
lines, custom metrics and notification go out only when the audit entry was new, so a
redelivered event counts nowhere twice.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from shared import bodies, clock, logs
from shared.governance import metrics, notify
from shared.governance.audit import entry_from_event
from shared.governance.dora import DoraService
from shared.models.ids import ORG_NAME
from shared.store.audit import AuditStore
from shared.store.dora import DoraStore
from shared.store.policies import NotificationStore

log = logs.get("events")
metric_log = logs.get("metrics")
CE_REQUIRED = ("id", "type", "source", "specversion")
# An event wraps a record (`data.after`), itself at most bodies.MAX_DEPTH deep: a deeper one
# could not be written to the audit log, so it is not a deployq event.
EVENT_MAX_DEPTH = bodies.MAX_DEPTH + 2


def decode_message(data: Any) -> dict[str, Any] | None:
    """The deployq CloudEvent carried by a Pub/Sub push (structured or binary mode), else None."""
    if not isinstance(data, Mapping):
        return None
    message = data.get("message") if isinstance(data.get("message"), Mapping) else None
    if message is None:
        return None
    attributes = message.get("attributes") or {}
    raw = message.get("data") or ""
    try:
        body = base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(raw)
        payload = bodies.loads(body, max_depth=EVENT_MAX_DEPTH, max_values=None) if body else None
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError, bodies.ApiError):
        return None
    if isinstance(attributes, Mapping) and attributes.get("ce-id"):
        event = {k[3:]: v for k, v in attributes.items() if k.startswith("ce-")}
        event["data"] = payload
    else:
        event = payload
    return event if is_deployq_event(event) else None


def is_deployq_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and all(isinstance(event.get(k), str) and event.get(k) for k in CE_REQUIRED)
        and event["type"].startswith("deployq.")
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("organisation") or event.get("organisation"), str)
        and bool(ORG_NAME.match(event["data"].get("organisation") or event.get("organisation")))
    )


class EventConsumer:
    """Handles deployq events from the events topic."""

    def __init__(self, db, monitoring=None, notifier_session=None):
        self.audit = AuditStore(db)
        self.dora = DoraService(DoraStore(db))
        self.notifications = NotificationStore(db)
        self.monitoring = monitoring  # a shared.google.monitoring.Monitoring, or None
        self.session = notifier_session

    def handle(self, event: dict[str, Any]) -> bool:
        """Apply one event; False when it had been handled before. Firestore errors propagate
        (the message is then redelivered)."""
        data = event["data"]
        org = str(data.get("organisation") or event.get("organisation")).lower()
        after = data.get("after")
        if event.get("subject", "").startswith("deployments/") and isinstance(after, dict):
            try:
                self.dora.apply(org, after)
            except (ValueError, KeyError, TypeError) as exc:  # a malformed record: skip DORA
                log.warning("event %s not counted in DORA: %s", event["id"], exc)
        created = self.audit.add(org, entry_from_event(event))
        if not created:
            log.info("event %s already handled", event["id"])
            return False
        for line in metrics.lines_for(event):
            logs.exact(metric_log, f"metric {line['metric']}", line)
        if self.monitoring is not None:
            self.monitoring.write(metrics.points_for(event, clock.utcnow()))
        text = notify.message_for(event)
        if text:
            url = self.notifications.get(org).get("slack_webhook_url")
            if url:
                notify.send(url, text, self.session)
        return True
