"""Benchmark: canary reaction time with the default 60 s check interval, on a simulated clock.

One canary at its first step (10%), checks every 60 s (the default). At a chosen moment
the fake's Monitoring starts answering with 50% errors for the canary (for any window that
ends after that moment: the first minute of errors is visible at once, as if Cloud Run's
metrics had no delay). The clock then advances in 1 s ticks, each running the checks that
are due (as their Cloud Tasks would), until the service's traffic is back on stable.
Measured for ten moments spread over one interval: reaction = traffic back on stable minus
the start of the errors, in simulated seconds.

In production Cloud Run's request metrics become visible in Monitoring 1-3 minutes after
the requests; a check's window reaches back 180 s, so errors are judged at the first check
after they become visible: reaction = that delay + the wait for the next check (< 60 s).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = "bench-run"
REGION = "europe-west1"
PHASES = 10
INTERVAL = 60


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.fakes import FakeGoogleApis
    from tests.support.emulators import Emulator

    log_dir = Path(tempfile.mkdtemp(prefix="deployq-bench-"))
    firestore = Emulator("firestore", log_dir)
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

        services = [f"projects/{PROJECT}/locations/{REGION}/services/*"]
        grant(os.environ["GOOGLE_CLOUD_PROJECT"], "bench", cloud_run_services=services)
        import logging

        import functions_framework

        app = functions_framework.create_app("canary", str(root / "functions/canary/main.py"))
        client = app.test_client()
        main_module = sys.modules["main"]
        canaries = main_module.canaries_for(main_module.SETTINGS)
        logging.getLogger("deployq").setLevel(logging.WARNING)

        now = [datetime.now(UTC) + timedelta(seconds=5)]
        canaries._sweep.parts.now = lambda: now[0]
        errors_from: dict[str, datetime] = {}

        def script(project, service, revision, start, end):
            count = 200 if revision.endswith("-2") else 2000
            failing = revision.endswith("-2") and service in errors_from
            errors = count // 2 if failing and end > errors_from[service] else 0
            return {
                "requests": {"2xx": count - errors, "5xx": errors},
                "latencies_ms": [80.0] * 200,
            }

        fake.monitoring.script(script)
        reactions = []
        for phase in range(PHASES):
            service = f"svc-{phase}"
            fake.run.add_service(
                PROJECT,
                REGION,
                service,
                revisions=[f"{service}-1", f"{service}-2"],
                traffic=[{"revision": f"{service}-1", "percent": 100}],
            )
            body = {
                "project": PROJECT,
                "region": REGION,
                "service": service,
                "canary_revision": f"{service}-2",
                "steps": [10, 50],
                "step_minutes": 30,
            }
            response = client.post("/v1/canaries", json=body, headers={"X-Organisation": "bench"})
            assert response.status_code == 201, response.get_json()
            # Two healthy checks, then errors start at a point spread over one interval.
            begin = now[0]
            errors_from[service] = begin + timedelta(seconds=2 * INTERVAL + phase * 6 + 1)
            while True:
                now[0] += timedelta(seconds=1)
                canaries.sweep()
                state = fake.run.service(PROJECT, REGION, service)
                stable = sum(
                    t["percent"] for t in state["traffic"] if t["revision"] == f"{service}-1"
                )
                if now[0] > errors_from[service] and stable == 100:
                    break
                assert now[0] - begin < timedelta(minutes=20), "no rollback"
            reactions.append((now[0] - errors_from[service]).total_seconds())
        print(
            f"canary reaction (default {INTERVAL} s interval, simulated clock, errors visible "
            f"at once): first minute of errors -> traffic back on stable: median "
            f"{statistics.median(reactions):.0f} s, worst {max(reactions):.0f} s over "
            f"{PHASES} starting points across one interval"
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        fake.stop()
        firestore.stop()


if __name__ == "__main__":
    main()
