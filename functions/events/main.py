"""The events consumer (`events`): audit log, DORA aggregates, metric lines, notifications.

Triggered by the events topic (Eventarc, or a Pub/Sub push subscription); each message is
one deployq CloudEvent. A message it cannot use is acknowledged and logged; an event it has
handled before changes nothing; a Firestore failure raises, so Pub/Sub redelivers.
"""

from __future__ import annotations

import os

import flask
import functions_framework

from shared import bodies, cloud_event_errors, logs
from shared.config import load_settings_or_exit
from shared.governance.consumer import (
    EVENT_MAX_DEPTH,
    EventConsumer,
    decode_message,
    is_deployq_event,
)
from shared.lazy import Lazy
from shared.store import firestore as fs

SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)
log = logs.get("events")


def _make_consumer() -> EventConsumer:
    monitoring = None
    # Custom metrics on Google (K_SERVICE is set on Cloud Functions) or a configured fake.
    if SETTINGS.monitoring_api_endpoint or os.environ.get("K_SERVICE"):
        from shared.google.monitoring import Monitoring

        monitoring = Monitoring(SETTINGS)
    db = fs.client(SETTINGS.project, SETTINGS.firestore_database)
    return EventConsumer(db, monitoring=monitoring)


consumer = Lazy(_make_consumer)


@functions_framework.errorhandler(Exception)
def refused(exc: Exception):
    return cloud_event_errors.handle(exc, EVENT_MAX_DEPTH)


@functions_framework.cloud_event
def events(cloud_event):
    """CloudEvent entry point: a Pub/Sub message carrying a deployq event (or the event itself)."""
    cloud_event_errors.entered()
    bodies.check(flask.request.get_data(), max_depth=EVENT_MAX_DEPTH, max_values=None)
    attributes = cloud_event.get_attributes()
    if str(attributes.get("type", "")).startswith("deployq."):
        event = {**attributes, "data": cloud_event.data}
        event = event if is_deployq_event(event) else None
    else:
        event = decode_message(cloud_event.data)
    if event is None:
        log.warning(
            "ignoring a message that is not a deployq event",
            extra={"fields": {"ce_id": attributes.get("id"), "ce_type": attributes.get("type")}},
        )
        return
    handled = consumer().handle(event)
    log.info(
        "event handled" if handled else "duplicate event ignored",
        extra={"fields": {"event_id": event["id"], "event_type": event["type"]}},
    )
