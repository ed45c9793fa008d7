"""Pub/Sub publishing: messages to one topic with bounded timeouts; the client is made lazily.

`PUBSUB_EMULATOR_HOST` (read by the client library) points it at the emulator.
"""

from __future__ import annotations

from shared import logs
from shared.lazy import Lazy

PUBLISH_TIMEOUT_SECONDS = 5.0
log = logs.get("pubsub")


def topic_path(project: str, topic: str) -> str:
    """A topic id as a full path in `project`; a full path as it is."""
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


class Publisher:
    """Publishes to one topic; `publish` never raises, it returns what Pub/Sub accepted."""

    def __init__(self, project: str, topic: str):
        self.topic = topic_path(project, topic)
        self._client = Lazy(self._make_client)

    @staticmethod
    def _make_client():
        from google.cloud import pubsub_v1

        settings = pubsub_v1.types.BatchSettings(max_latency=0.005)
        return pubsub_v1.PublisherClient(batch_settings=settings)

    def publish(self, messages: list[tuple[str, bytes]], content_type: str) -> list[str]:
        """Publish `(id, payload)` pairs; returns the ids Pub/Sub accepted (failures are
        logged, not raised)."""
        if not messages:
            return []
        from google.api_core import retry as api_retry

        client = self._client()
        retry = api_retry.Retry(
            initial=0.1, maximum=1.0, multiplier=2.0, timeout=PUBLISH_TIMEOUT_SECONDS
        )
        futures = []
        for message_id, payload in messages:
            try:
                future = client.publish(
                    self.topic,
                    payload,
                    retry=retry,
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                    **{"content-type": content_type},
                )
            except Exception as exc:  # noqa: BLE001 - publishing must never fail a caller
                log.warning("cannot publish message %s: %s", message_id, exc)
                continue
            futures.append((message_id, future))
        accepted = []
        for message_id, future in futures:
            try:
                future.result(timeout=PUBLISH_TIMEOUT_SECONDS + 5)
                accepted.append(message_id)
            except Exception as exc:  # noqa: BLE001
                log.warning("message %s not published yet (the sweep retries): %s", message_id, exc)
        return accepted
