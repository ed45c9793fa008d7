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

import statistics
import sys
from datetime import UTC, datetime, timedelta

from bench.support import canary_stack

PROJECT = "bench-run"
REGION = "europe-west1"
PHASES = 10
INTERVAL = 60


def main() -> None:
    with canary_stack(PROJECT, REGION) as (fake, client):
        main_module = sys.modules["main"]
        canaries = main_module.canaries_for(main_module.SETTINGS)

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


if __name__ == "__main__":
    main()
