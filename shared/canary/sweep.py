"""The minute sweep: run every overdue check (several at once), retry linked updates."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared import logs
from shared.canary.checks import Checks
from shared.canary.effects import Effects
from shared.google.monitoring import MetricPoint

SWEEP_LIMIT = 500
SWEEP_WORKERS = 8
SWEEP_BUDGET_SECONDS = 45
log = logs.get("canary")


class Sweep:
    def __init__(self, checks: Checks, effects: Effects):
        self.checks = checks
        self.effects = effects
        self.parts = checks.parts

    def run(self, budget_seconds: float = SWEEP_BUDGET_SECONDS) -> int:
        """Run every overdue check; returns how many canaries were checked.

        Overdue canaries are fetched in pages of SWEEP_LIMIT until none is left or the
        time budget (under Cloud Scheduler's deadline) is spent.
        """
        started = time.monotonic()
        metrics: list[MetricPoint] = []
        lock = threading.Lock()
        checked = 0
        tried: set[tuple[str, str]] = set()

        def one(item: tuple[str, str]) -> None:
            nonlocal checked
            org, canary_id = item
            found: list[MetricPoint] = []
            try:
                result = self.checks.check(org, canary_id, metrics=found)
            except Exception:  # noqa: BLE001 - one canary's failure never stops the sweep
                log.exception("check of canary %s failed", canary_id)
                return
            with lock:
                metrics.extend(found)
                checked += result is not None

        store = self.parts.store
        with ThreadPoolExecutor(max_workers=SWEEP_WORKERS) as pool:
            while time.monotonic() - started < budget_seconds:
                due = [
                    item for item in store.due(self.parts.now(), SWEEP_LIMIT) if item not in tried
                ]
                if not due:
                    break
                tried.update(due)
                list(pool.map(one, due))
        self.parts.monitoring.write(metrics)
        try:
            self.effects.linked.retry()
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.exception("retrying linked deployment updates failed")
        return checked
