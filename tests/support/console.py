"""The console's stack for browser tests and the benchmark: every function on free ports.

The same pieces as `make dev` (emulators, the Google API fake with the demo services,
deployments, packages, worker, canary, events and console functions, a push subscription
and a sweeper standing in for Cloud Scheduler), seeded by scripts/demo.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import requests

from tests.support.emulators import free_port, start_function

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORDER = ("events", "deployments", "packages", "worker", "canary", "console")


def chromium_path() -> str | None:
    """Debian's Chromium (apt-get install chromium), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ConsoleStack:
    """Every function as a process against the given emulators and an in-process fake."""

    def __init__(self, firestore_host: str, pubsub_host: str, log_dir: Path, auth_env=None):
        from tests.fakes import FakeGoogleApis
        from tests.support.governance import create_subscription, create_topic

        sys.path.insert(0, str(ROOT))
        from scripts.demo import install_demo_services

        self.project = f"console-{uuid.uuid4().hex[:10]}"
        self.fake = FakeGoogleApis()
        self.fake.start()
        install_demo_services(self.fake)
        ports = {name: free_port() for name in ORDER}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        topic = "deployq-events"
        self.env = {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": firestore_host,
            "PUBSUB_EMULATOR_HOST": pubsub_host,
            "AUTH_ENABLED": "false",
            "TASKS_QUEUE": f"projects/{self.project}/locations/local/queues/deployq",
            "TASKS_EMULATOR_HOST": self.fake.address,
            "WORKER_URL": f"{self.urls['worker']}/tasks/run",
            "TASKS_SERVICE_ACCOUNT": "tasks@deployq-local.iam.gserviceaccount.com",
            "EVENTS_TOPIC": topic,
            "CLOUD_RUN_API_ENDPOINT": self.fake.address,
            "MONITORING_API_ENDPOINT": self.fake.address,
            "ENVIRONMENTS": json.dumps(
                {e: {"project": self.project, "database": e} for e in ("dev", "staging")}
            ),
            "CONSOLE_ORIGIN": self.urls["console"],
            "DEPLOYMENTS_URL": self.urls["deployments"],
            "PACKAGES_URL": self.urls["packages"],
            "CANARY_URL": self.urls["canary"],
            **(auth_env or {}),
        }
        self.processes = []
        self._stop = threading.Event()
        try:
            for name in ORDER:
                self.processes.append(start_function(name, ports[name], self.env, log_dir))
            create_topic(pubsub_host, self.project, topic)
            create_subscription(
                pubsub_host,
                self.project,
                topic,
                f"{topic}-push",
                push_endpoint=f"{self.urls['events']}/",
            )
        except Exception:
            self.close()
            raise
        threading.Thread(target=self._sweep, daemon=True).start()

    def _sweep(self) -> None:
        """Cloud Scheduler's canary sweep, every second (checks also arrive as tasks)."""
        while not self._stop.wait(1):
            try:
                requests.post(f"{self.urls['canary']}/v1/canaries:sweep", timeout=30)
            except requests.RequestException:
                pass

    def seed(self, canaries: bool = False, log_dir: Path | None = None) -> dict:
        """scripts/demo.py seed against this stack (in a process of its own: it sets the clock)."""
        config = (log_dir or Path("/tmp")) / f"stack-{self.project}.json"
        config.write_text(json.dumps({"urls": self.urls, "env": self.env, "canaries": canaries}))
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "demo.py"), "seed", "--stack", str(config)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(ROOT),
        )
        if done.returncode != 0:
            raise RuntimeError(f"demo seed failed: {done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def api(self, service: str, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Organisation": "acme", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.urls[service] + path, headers=headers, timeout=30, **kwargs
        )

    def close(self) -> None:
        self._stop.set()
        for process in reversed(self.processes):
            process.stop()
        self.fake.stop()


def launch_chromium(playwright):
    """Headless Debian Chromium through Playwright (no browser download)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
