"""Measuring helpers: concurrent HTTP load with latency percentiles and the serving process's
CPU time, cold imports, tables."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    name: str
    latencies: list[float]
    seconds: float
    errors: int
    # CPU seconds (user + system) the serving process spent on `cpu_requests` of the requests
    cpu: float = 0.0
    cpu_requests: int = 0

    @property
    def cpu_ms(self) -> float | None:
        """CPU milliseconds of the serving process per request (None when not measured)."""
        return self.cpu * 1000 / self.cpu_requests if self.cpu_requests else None

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds


def load(
    name: str,
    call: Callable[[requests.Session, int], requests.Response],
    *,
    requests_total: int,
    clients: int,
    partitioned: bool = False,
    group: int | None = None,
) -> Result:
    """Run `call(session, i)` for i in range(requests_total) from `clients` threads.

    `partitioned`: client k makes requests k, k + clients, ... in order (its own work).
    `group`: the process group serving the requests, whose CPU time the result counts.
    """
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests_total))

    def worker(k: int):
        nonlocal errors
        session = requests.Session()
        mine = iter(range(k, requests_total, clients))
        while True:
            with lock:
                index = next(mine if partitioned else counter, None)
            if index is None:
                return
            started = time.perf_counter()
            response = call(session, index)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status_code >= 400:
                    errors += 1

    cpu_before = cpu_seconds(group) if group is not None else 0.0
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    result = Result(name, latencies, seconds, errors)
    if group is not None:
        result.cpu, result.cpu_requests = cpu_seconds(group) - cpu_before, len(latencies)
    return result


def cpu_seconds(group: int) -> float:
    """User + system CPU seconds of the live processes of a process group, from /proc (Linux).

    A function started by `tests.support.emulators.start_function` leads a group of its own:
    the functions-framework server and the worker it forks, which serves the requests.
    """
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read()
        except OSError:  # exited meanwhile
            continue
        # After "pid (command) ": state, ppid, pgrp, ..., utime (12th), stime (13th).
        fields = text[text.rindex(b")") + 2 :].split()
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cold_imports(*codes: str | tuple[str, Path, dict], runs: int = 11) -> list[float]:
    """Median wall time (ms) of each code in fresh interpreters (import time only).

    A code is text run from the repository, or (text, folder, extra environment) run from
    that folder. The codes take turns, run after run, so a slower moment of the machine hits
    all alike.
    """
    samples: list[list[float]] = [[] for _ in codes]
    for _ in range(runs):
        for index, code in enumerate(codes):
            text, cwd, extra = (code, ROOT, {}) if isinstance(code, str) else code
            script = (
                "import time, sys; sys.path.insert(0, '.'); t = time.perf_counter()\n"
                f"{text}\n"
                "print(time.perf_counter() - t)"
            )
            out = subprocess.run(
                [sys.executable, "-c", script],
                cwd=cwd,
                env={**os.environ, **extra},
                capture_output=True,
                text=True,
                check=True,
            )
            samples[index].append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    return [statistics.median(s) for s in samples]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )


@contextlib.contextmanager
def canary_stack(project: str, region: str):
    """The canary function in-process over a Firestore emulator and the Google API fake, the
    organisation `bench` granted `project`'s services in `region`: yields (fake, client)."""
    import logging

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.fakes import FakeGoogleApis
    from tests.support.emulators import Emulator

    firestore = Emulator("firestore", Path(tempfile.mkdtemp(prefix="deployq-bench-")))
    fake = FakeGoogleApis()
    fake.start()
    saved = dict(os.environ)
    try:
        os.environ.update(
            FIRESTORE_EMULATOR_HOST=firestore.host,
            GOOGLE_CLOUD_PROJECT=f"bench-{uuid.uuid4().hex[:8]}",
            AUTH_ENABLED="false",
            CLOUD_RUN_API_ENDPOINT=fake.address,
            MONITORING_API_ENDPOINT=fake.address,
        )
        os.environ.pop("WORKER_URL", None)
        os.environ.pop("TASKS_QUEUE", None)
        from tests.support.organisations import grant

        services = [f"projects/{project}/locations/{region}/services/*"]
        grant(os.environ["GOOGLE_CLOUD_PROJECT"], "bench", cloud_run_services=services)
        import functions_framework

        app = functions_framework.create_app("canary", str(root / "functions/canary/main.py"))
        logging.getLogger("deployq").setLevel(logging.WARNING)
        yield fake, app.test_client()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        fake.stop()
        firestore.stop()
