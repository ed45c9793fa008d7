"""Events: one sink every service writes its CloudEvents to, in the change's own commit.

    sink.record(transaction_or_batch, org, events)   # before the commit, after its reads
    sink.publish_soon(org, events)                   # after the commit; the caller never waits

A change and its events commit together (`organisations/{org}/outbox/{doc}`), so an event
is never lost; after the commit a background thread publishes them to `EVENTS_TOPIC` and
marks them published. `sweep` republishes whatever is still unpublished (Pub/Sub was down,
the topic was missing, the process died). An event keeps its id when republished;
consumers are idempotent on it.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared import clock, logs
from shared.lazy import Lazy

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.config import Settings
    from shared.google.pubsub import Publisher

OUTBOX = "outbox"
# Events of one commit share outbox documents up to this much JSON (1 MiB per document).
MAX_GROUP_BYTES = 700_000
# The outbox document an in-memory event was written to (never stored or published).
DOC_KEY = "_outbox"
CONTENT_TYPE = "application/cloudevents+json"
PUBLISHED_TTL = timedelta(days=7)
SWEEP_PAGE = 300
log = logs.get("events")


def resource_type(subject: str) -> str:
    """`deployments/<id>` -> `deployment`, `policies/<env>` -> `policy`."""
    collection = subject.split("/", 1)[0]
    if collection == "settings":  # an organisation's settings are one resource
        return collection
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection[:-1] if collection.endswith("s") else collection


def principal_view(principal: Principal | None) -> dict[str, Any] | None:
    if principal is None:
        return None
    return {
        "kind": principal.kind,
        "subject": principal.subject,
        "role": principal.role,
        "repository": principal.repository,
        "workflow": principal.workflow,
        "actor": principal.actor or principal.subject,
    }


def build_event(
    org: str,
    type_: str,
    subject: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    principal: Principal | None = None,
    meta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    on_behalf_of: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """One CloudEvent (structured mode, JSON) describing a change of `subject` in `org`.

    `data` holds `before`/`after` (the public views of the resource), the principal, the
    request's ip/user agent (`meta`), `on_behalf_of` (the user a system change is made for,
    when given) and `extra` (e.g. a comment or an override reason).
    """
    meta = meta or {}
    data: dict[str, Any] = {
        "organisation": org,
        "before": before,
        "after": after,
        "principal": principal_view(principal),
        "request": {"ip": meta.get("ip"), "user_agent": meta.get("user_agent")},
    }
    if on_behalf_of is not None:
        data["on_behalf_of"] = on_behalf_of
    data.update({k: v for k, v in (extra or {}).items() if not k.startswith("_")})
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"//deployq/organisations/{org}",
        "type": type_,
        "subject": subject,
        "time": time or (after or {}).get("updated_at") or clock.now_text(),
        "datacontenttype": "application/json",
        "organisation": org,
        "data": data,
    }


class EventSink:
    """The transactional outbox of events of one Firestore database, and its publisher.

    Every service emits its events here: `record` in the change's commit, `publish_soon`
    once it committed. Without a publisher (no `EVENTS_TOPIC`) events stay in the outbox.
    """

    def __init__(self, db, publisher: Publisher | None):
        self.db = db
        self.publisher = publisher
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    def _ref(self, org: str, event_id: str):
        return self.db.document("organisations", org, OUTBOX, event_id)

    def record(self, writer, org: str, events: Iterable[dict[str, Any]]) -> None:
        """Write events with `writer` (a transaction after its reads, or a batch).

        Events are stored as their JSON text (`events_json`: one string value, far cheaper
        to encode than a map of maps); the many events of one commit (an auto-skip) share
        documents, so they cost a few writes, not one each.
        """
        from shared.store import writes

        base = {"published": False, "created_at": clock.now_text(), "organisation": org}
        for group in _groups(list(events)):
            doc_id = group[0][0]["id"]
            for event, _ in group:
                event[DOC_KEY] = doc_id
            text = "[" + ",".join(t for _, t in group) + "]"
            data = {**base, "events_json": text, "count": len(group)}
            writes.set(writer, self._ref(org, doc_id), data)

    def publish_soon(self, org: str, events: list[dict[str, Any]]) -> None:
        """Publish committed events in the background (the caller does not wait); failures
        stay for the sweep."""
        if not events or self.publisher is None:
            return
        self._queue.put((org, events))
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="events-outbox", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            batches = [self._queue.get()]
            # Whatever queued up meanwhile goes out in the same round (one wait, not many).
            while len(batches) < 100:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._publish_and_mark([(org, e) for org, events in batches for e in events])
            except Exception:  # noqa: BLE001 - the worker must survive anything
                log.exception("event publishing failed; the sweep will retry")

    def _publish_and_mark(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Publish events; mark each outbox document whose events all went out."""
        assert self.publisher is not None
        messages = [(event["id"], event_json(event).encode()) for _, event in items]
        published = set(self.publisher.publish(messages, CONTENT_TYPE))
        if not published:
            return 0
        now = clock.utcnow()
        documents: dict[tuple[str, str], bool] = {}
        for org, event in items:
            key = (org, event.get(DOC_KEY) or event["id"])
            documents[key] = documents.get(key, True) and event["id"] in published
        marks = [key for key, done in documents.items() if done]
        for start in range(0, len(marks), 400):
            batch = self.db.batch()
            for org, doc_id in marks[start : start + 400]:
                batch.update(
                    self._ref(org, doc_id),
                    {
                        "published": True,
                        "published_at": clock.to_text(now),
                        "expire_at": now + PUBLISHED_TTL,
                    },
                )
            batch.commit()
        return len(published)

    def sweep(self, deadline_seconds: float = 50.0) -> tuple[int, int]:
        """Publish every unpublished event of every organisation; returns (published, failed).

        Only outbox documents under `organisations/{org}/` count, and their organisation is
        the one in their path: a same-named collection elsewhere is ignored (and logged).
        """
        import time

        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared.store.tenancy import tenant_of

        if self.publisher is None:
            return 0, 0
        started = time.monotonic()
        published = failed = 0
        query = (
            self.db.collection_group(OUTBOX)
            .where(filter=FieldFilter("published", "==", False))
            .order_by("created_at")
            .limit(SWEEP_PAGE)
        )
        cursor = None
        while time.monotonic() - started < deadline_seconds:
            # Pages follow a cursor, so documents left unpublished (ignored ones) never stall it.
            snaps = list((query if cursor is None else query.start_after(cursor)).stream())
            if not snaps:
                break
            cursor = snaps[-1]
            items = [
                (org, {**event, DOC_KEY: snap.id})
                for snap in snaps
                for org in [tenant_of(snap.reference)]
                if org is not None
                for event in stored_events(snap.to_dict())
                if event.get("organisation", org) == org
            ]
            if items:
                done = self._publish_and_mark(items)
                published += done
                if done < len(items):
                    failed = len(items) - done
                    break
            if len(snaps) < SWEEP_PAGE:
                break
        return published, failed


def event_json(event: dict[str, Any]) -> str:
    """The event as published: JSON without in-memory bookkeeping keys."""
    return json.dumps(
        {k: v for k, v in event.items() if not k.startswith("_")}, separators=(",", ":")
    )


def stored_events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The events an outbox document holds."""
    return json.loads(doc.get("events_json") or "[]")


def _groups(events: list[dict[str, Any]]) -> list[list[tuple[dict[str, Any], str]]]:
    """Events with their JSON, in groups of at most MAX_GROUP_BYTES."""
    groups: list[list[tuple[dict[str, Any], str]]] = []
    size = 0
    for event in events:
        text = event_json(event)
        if not groups or size + len(text) > MAX_GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append((event, text))
        size += len(text) + 1
    return groups


def _make_sink(settings: Settings) -> EventSink:
    from shared.store import firestore as fs

    publisher = None
    if settings.events_topic:
        from shared.google.pubsub import Publisher

        publisher = Publisher(settings.project, settings.events_topic)
    return EventSink(fs.client(settings.project, settings.firestore_database), publisher)


# The process's sink of a database and topic (one outbox, one publishing thread).
event_sink = Lazy(_make_sink, key=lambda s: (s.project, s.firestore_database, s.events_topic))
