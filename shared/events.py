"""Events: CloudEvents 1.0 written to an outbox in the change's own transaction, published after.

A change and its event commit together (`organisations/{org}/outbox/{event_id}`), so an
event is never lost; after the commit a background thread publishes it to `EVENTS_TOPIC`
and marks it published, so the request never waits on Pub/Sub. `sweep` republishes
whatever is still unpublished (Pub/Sub was down, the topic was missing, the process
died). An event keeps its id when republished; consumers are idempotent on it.
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
from shared.google.clients import Lazy
from shared.models.deployment import public

if TYPE_CHECKING:
    from shared.auth import Principal

OUTBOX = "outbox"
# Events of one transaction share outbox documents up to this much JSON (1 MiB per document).
MAX_GROUP_BYTES = 700_000
# The outbox document an in-memory event was written to (never stored or published).
DOC_KEY = "_outbox"
PUBLISH_TIMEOUT_SECONDS = 5.0
PUBLISHED_TTL = timedelta(days=7)
SWEEP_PAGE = 300
log = logs.get("events")


def topic_path(project: str, topic: str) -> str:
    """`EVENTS_TOPIC` as a full path: a topic id is taken to live in `project`."""
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


def resource_type(subject: str) -> str:
    """`deployments/<id>` -> `deployment`, `policies/<env>` -> `policy`."""
    collection = subject.split("/", 1)[0]
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
    time: str | None = None,
) -> dict[str, Any]:
    """One CloudEvent (structured mode, JSON) describing a committed change."""
    meta = meta or {}
    data: dict[str, Any] = {
        "organisation": org,
        "before": before,
        "after": after,
        "principal": principal_view(principal),
        "request": {"ip": meta.get("ip"), "user_agent": meta.get("user_agent")},
    }
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


class EventPublisher:
    """Pub/Sub publishing of events (structured mode) with bounded timeouts; client made lazily."""

    def __init__(self, project: str, topic: str):
        self.topic = topic_path(project, topic)
        self._publisher = Lazy(self._make_publisher)

    @staticmethod
    def _make_publisher():
        from google.cloud import pubsub_v1

        settings = pubsub_v1.types.BatchSettings(max_latency=0.005)
        return pubsub_v1.PublisherClient(batch_settings=settings)

    def publish(self, events: list[dict[str, Any]]) -> list[str]:
        """Publish events; returns the ids Pub/Sub accepted (failures are logged, not raised)."""
        if not events:
            return []
        from google.api_core import retry as api_retry

        client = self._publisher()
        retry = api_retry.Retry(
            initial=0.1, maximum=1.0, multiplier=2.0, timeout=PUBLISH_TIMEOUT_SECONDS
        )
        futures = []
        for event in events:
            payload = event_json(event).encode()
            try:
                future = client.publish(
                    self.topic,
                    payload,
                    retry=retry,
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                    **{"content-type": "application/cloudevents+json"},
                )
            except Exception as exc:  # noqa: BLE001 - publishing must never fail a caller
                log.warning("cannot publish event %s: %s", event["id"], exc)
                continue
            futures.append((event["id"], future))
        published = []
        for event_id, future in futures:
            try:
                future.result(timeout=PUBLISH_TIMEOUT_SECONDS + 5)
                published.append(event_id)
            except Exception as exc:  # noqa: BLE001
                log.warning("event %s not published yet (the sweep retries): %s", event_id, exc)
        return published


class Outbox:
    """The transactional outbox of events of one Firestore database.

    `write_changes` and `publish_changes` plug into `DeploymentStore`; `record` and
    `publish_soon` serve any other resource (policies, approvals, packages, canaries).
    """

    def __init__(self, db, publisher: EventPublisher | None):
        self.db = db
        self.publisher = publisher
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0

    def _ref(self, org: str, event_id: str):
        return (
            self.db.collection("organisations").document(org).collection(OUTBOX).document(event_id)
        )

    # -- in the transaction ---------------------------------------------------------

    def record(self, transaction, org: str, events: Iterable[dict[str, Any]]) -> None:
        """Write events to the outbox as part of `transaction` (after its reads).

        Events are stored as their JSON text (`events_json`: one string value, far cheaper
        to encode than a map of maps); the many events of one transaction (an auto-skip)
        share documents, so they cost a few writes, not one each.
        """
        base = {"published": False, "created_at": clock.now_text(), "organisation": org}
        for group in _groups(list(events)):
            doc_id = group[0][0]["id"]
            for event, _ in group:
                event[DOC_KEY] = doc_id
            text = "[" + ",".join(t for _, t in group) + "]"
            data = {**base, "events_json": text, "count": len(group)}
            transaction.set(self._ref(org, doc_id), data)

    def write_changes(self, transaction, org: str, changes: list, principal, meta: dict) -> None:
        """The `DeploymentStore` hook: one event per `Change`, kept on the change for publishing."""
        events = []
        for change in changes:
            event = getattr(change, "event", None)
            if event is None:
                event = build_event(
                    org,
                    change.type,
                    f"deployments/{change.deployment_id}",
                    public_or_none(change.before),
                    public_or_none(change.after),
                    principal=principal,
                    meta=meta,
                    extra=change.extra,
                )
                change.event = event
            events.append(event)
        self.record(transaction, org, events)

    # -- after the commit -----------------------------------------------------------

    def publish_changes(self, org: str, changes: list) -> None:
        """The `DeploymentStore` hook: hand the committed events to the background publisher."""
        self.publish_soon(org, [c.event for c in changes if getattr(c, "event", None)])

    def publish_soon(self, org: str, events: list[dict[str, Any]]) -> None:
        """Publish in the background (the caller does not wait); failures stay for the sweep."""
        if not events or self.publisher is None:
            return
        with self._idle:
            self._pending += 1
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
            finally:
                with self._idle:
                    self._pending -= len(batches)
                    self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until the background publisher has handled everything queued (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _publish_and_mark(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Publish events; mark each outbox document whose events all went out."""
        assert self.publisher is not None
        published = set(self.publisher.publish([event for _, event in items]))
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
        """Publish every unpublished event of every organisation; returns (published, failed)."""
        import time

        from google.cloud.firestore_v1.base_query import FieldFilter

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
        while time.monotonic() - started < deadline_seconds:
            items = [
                (doc["organisation"], {**event, DOC_KEY: snap.id})
                for snap in query.stream()
                for doc in [snap.to_dict()]
                for event in stored_events(doc)
            ]
            if not items:
                break
            done = self._publish_and_mark(items)
            published += done
            if done < len(items):
                failed = len(items) - done
                break
        return published, failed


def public_or_none(record: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else public(record)


def event_json(event: dict[str, Any]) -> str:
    """The event as published: JSON without in-memory bookkeeping keys."""
    return json.dumps(
        {k: v for k, v in event.items() if not k.startswith("_")}, separators=(",", ":")
    )


def stored_events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The events an outbox document holds."""
    if doc.get("event") is not None:
        return [doc["event"]]
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
