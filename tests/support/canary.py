"""Helpers for canary tests and the benchmark: scripted traffic, a health endpoint, polling."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT = "shop-prod"
REGION = "europe-west1"


class HealthServer:
    """The revisions' tag URLs: answers GET /<tag>/<path> with a scripted status (and delay)."""

    def __init__(self):
        self.status = 200
        self.delay = 0.0
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                if server.delay:
                    time.sleep(server.delay)
                body = b"ok" if server.status < 400 else b"database unreachable"
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.template = f"http://127.0.0.1:{self.port}/{{tag}}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Traffic:
    """A Monitoring script: each revision answers by its current traffic share, as set on the fake.

    `canary` / `stable` give per-window behaviour: {"requests": n, "errors_pct": x,
    "latency_ms": v}; `canary_at` overrides the canary's by its traffic percent.
    """

    def __init__(
        self,
        fake,
        service: str,
        canary: str,
        stable: str,
        project: str = PROJECT,
        region: str = REGION,
    ):
        self.fake = fake
        self.service, self.canary, self.stable = service, canary, stable
        self.project, self.region = project, region
        self.canary_profile: dict[str, Any] = {"requests": 200, "errors_pct": 0.0, "latency_ms": 80}
        self.stable_profile: dict[str, Any] = {
            "requests": 2000,
            "errors_pct": 0.0,
            "latency_ms": 80,
        }
        self.canary_at: dict[int, dict[str, Any]] = {}

    def percent(self, revision: str) -> int:
        state = self.fake.run.service(self.project, self.region, self.service)
        return sum(t["percent"] for t in state["traffic"] if t["revision"] == revision)

    def window(self, revision: str) -> dict | None:
        if revision == self.canary:
            share = self.percent(self.canary)
            if share == 0:
                return None
            profile = {**self.canary_profile, **self.canary_at.get(share, {})}
        elif revision == self.stable:
            if self.percent(self.stable) == 0:
                return None
            profile = self.stable_profile
        else:
            return None
        count = int(profile["requests"])
        if count <= 0:
            return None
        errors = int(round(count * profile["errors_pct"] / 100))
        latencies = [float(profile["latency_ms"])] * min(count, 200)
        return {"requests": {"2xx": count - errors, "5xx": errors}, "latencies_ms": latencies}


def install(fake, *traffics: Traffic) -> None:
    """Serve every Traffic's windows from the Monitoring fake."""
    by_service = {t.service: t for t in traffics}

    def script(project, service, revision, start, end):
        traffic = by_service.get(service)
        if traffic is None or project != traffic.project:
            return None
        return traffic.window(revision)

    fake.monitoring.script(script)


def canary_body(service: str, canary: str, **changes) -> dict[str, Any]:
    body = {
        "project": PROJECT,
        "region": REGION,
        "service": service,
        "canary_revision": canary,
        "steps": [10, 50],
        "step_minutes": 0.02,
        "interval_seconds": 1,
        "thresholds": {
            "max_error_rate_pct": 1.0,
            "max_p95_ms": 1000,
            "max_p99_ms": 2000,
            "min_requests": 100,
        },
    }
    body.update(changes)
    return body
