"""Test helpers of the governance part: events delivery, outbox reading, a cuttable TCP proxy,
a webhook receiver and Pub/Sub emulator set-up."""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


def events_client():
    """A functions-framework test client of the events function (CloudEvent signature)."""
    import functions_framework

    app = functions_framework.create_app(
        "events", str(ROOT / "functions" / "events" / "main.py"), "cloudevent"
    )
    return app.test_client()


def push_body(data: bytes, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    """What a Pub/Sub push subscription POSTs for one message."""
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes or {"content-type": "application/cloudevents+json"},
            "messageId": str(uuid.uuid4().int)[:16],
            "publishTime": "2026-01-01T00:00:00.000Z",
        },
        "subscription": "projects/test/subscriptions/deployq-events",
    }


def deliver(client, event: dict[str, Any]):
    """Push one event (structured mode) to the events function; returns the response."""
    body = push_body(json.dumps(event).encode())
    return client.post("/", json=body)


def outbox(db, org: str = "acme", published: bool | None = None) -> list[dict[str, Any]]:
    """The events in an organisation's outbox, oldest first: {event, published, created_at}."""
    from shared.events import stored_events

    ref = db.collection("organisations").document(org).collection("outbox")
    items = [
        {"event": event, "published": doc["published"], "created_at": doc["created_at"]}
        for doc in (s.to_dict() for s in ref.stream())
        for event in stored_events(doc)
    ]
    if published is not None:
        items = [i for i in items if i["published"] is published]
    return sorted(items, key=lambda i: (i["created_at"], i["event"]["time"]))


def outbox_documents(db, org: str = "acme") -> int:
    return len(list(db.collection("organisations").document(org).collection("outbox").stream()))


def drain(db, client, org: str = "acme") -> list[dict[str, Any]]:
    """Deliver every outbox event of `org` to the events function (as if Pub/Sub did)."""
    events = [doc["event"] for doc in outbox(db, org)]
    for event in events:
        response = deliver(client, event)
        assert response.status_code == 200, response.data
    return events


class TcpProxy:
    """A loopback TCP proxy to `target` that can be cut (an outage) and restored."""

    def __init__(self, target: str):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = True
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self.up = False
        with self._lock:
            connections, self._connections = self._connections, []
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


class WebhookReceiver:
    """A local Slack-compatible incoming webhook that records what it receives."""

    def __init__(self):
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pubsub_rest(host: str) -> str:
    return f"http://{host}/v1"


def create_topic(host: str, project: str, topic: str) -> None:
    response = requests.put(f"{pubsub_rest(host)}/projects/{project}/topics/{topic}", timeout=10)
    assert response.status_code in (200, 409), response.text


def create_subscription(
    host: str, project: str, topic: str, name: str, push_endpoint: str | None = None
) -> None:
    body: dict[str, Any] = {"topic": f"projects/{project}/topics/{topic}", "ackDeadlineSeconds": 10}
    if push_endpoint:
        body["pushConfig"] = {"pushEndpoint": push_endpoint}
    response = requests.put(
        f"{pubsub_rest(host)}/projects/{project}/subscriptions/{name}", json=body, timeout=10
    )
    assert response.status_code in (200, 409), response.text


def pull(host: str, project: str, subscription: str, max_messages: int = 100) -> list[dict]:
    """Pull and acknowledge messages; returns the decoded event JSON of each."""
    url = f"{pubsub_rest(host)}/projects/{project}/subscriptions/{subscription}"
    response = requests.post(
        f"{url}:pull", json={"maxMessages": max_messages, "returnImmediately": True}, timeout=10
    )
    received = response.json().get("receivedMessages", [])
    if received:
        requests.post(
            f"{url}:acknowledge", json={"ackIds": [m["ackId"] for m in received]}, timeout=10
        )
    return [json.loads(base64.b64decode(m["message"]["data"])) for m in received]
