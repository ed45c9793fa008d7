"""Benchmark: one sweep over 2,000 active canaries (`BENCH_CANARIES`) against the gRPC fake
and the Firestore emulator, on one instance.

Prints the sweep's wall time, the Google API calls it made per canary (from the fake's
call counter) and its Firestore operations per canary, for a sweep where nothing changes
(every canary healthy but early in its step) and for one where every canary moves to its
next step. Targets: within 60 s; at most 2 Monitoring queries and 0 Cloud Run calls per
canary when nothing changes.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC

from bench.support import canary_stack

CANARIES = int(os.environ.get("BENCH_CANARIES", "2000"))
# Long enough that no step ends before the first sweep (starting a canary takes 10-35 ms here).
STEP_MINUTES = CANARIES * 0.05 / 60 + 0.5
PROJECT = "bench-run"
REGION = "europe-west1"


def _per_canary(calls, prefix: str) -> float:
    return sum(n for name, n in calls.items() if name.startswith(prefix)) / CANARIES


def _round_trip(fake, samples: int = 50) -> float:
    """Mean seconds of one ListTimeSeries call to the fake (what a check's query costs)."""
    from datetime import datetime, timedelta

    from shared.config import Settings
    from shared.google.monitoring import Monitoring

    monitoring = Monitoring(Settings(monitoring_api_endpoint=fake.address))
    end = datetime.now(UTC)
    monitoring.read_revisions(
        PROJECT, REGION, "svc-000", ["a", "b"], end - timedelta(minutes=1), end
    )
    begin = time.perf_counter()
    for _ in range(samples // 2):
        monitoring.read_revisions(
            PROJECT, REGION, "svc-000", ["a", "b"], end - timedelta(minutes=1), end
        )
    return (time.perf_counter() - begin) / (2 * (samples // 2))


def main() -> None:
    with canary_stack(PROJECT, REGION) as (fake, client):
        from tests.support.canary import Traffic, install
        from tests.support.firestore_ops import counted_firestore

        headers = {"X-Organisation": "bench"}
        traffics = []
        for i in range(CANARIES):
            service = f"svc-{i:03d}"
            fake.run.add_service(
                PROJECT,
                REGION,
                service,
                revisions=[f"{service}-1", f"{service}-2"],
                traffic=[{"revision": f"{service}-1", "percent": 100}],
            )
            traffics.append(Traffic(fake, service, f"{service}-2", f"{service}-1", PROJECT, REGION))
        install(fake, *traffics)
        started = time.perf_counter()
        for i in range(CANARIES):
            service = f"svc-{i:03d}"
            body = {
                "project": PROJECT,
                "region": REGION,
                "service": service,
                "canary_revision": f"{service}-2",
                "steps": [10, 50],
                "step_minutes": STEP_MINUTES,
                "interval_seconds": 1,
            }
            response = client.post("/v1/canaries", json=body, headers=headers)
            assert response.status_code == 201, response.get_json()
        setup = time.perf_counter() - started
        print(f"canary bench: {CANARIES} canaries started in {setup:.2f} s")

        baseline = _round_trip(fake)
        print(
            f"canary bench: same-run baseline: one ListTimeSeries round-trip to the fake "
            f"takes {1000 * baseline:.2f} ms"
        )

        def sweep(label: str) -> None:
            time.sleep(1.1)  # every canary's next check is due
            fake.reset_calls()
            begin = time.perf_counter()
            with counted_firestore(all_threads=True) as ops:
                response = client.post("/v1/canaries:sweep", headers=headers)
            wall = time.perf_counter() - begin
            calls = dict(fake.calls)
            checked = response.get_json()["checked"]
            print(
                f"canary bench: sweep ({label}): {checked} canaries checked in {wall:.2f} s "
                f"({1000 * wall / max(checked, 1):.1f} ms per canary); per canary: "
                f"Monitoring ListTimeSeries {_per_canary(calls, 'google.monitoring.v3.MetricService/ListTimeSeries'):.2f}, "  # noqa: E501
                f"Monitoring writes {_per_canary(calls, 'google.monitoring.v3.MetricService/Create'):.3f}, "  # noqa: E501
                f"Cloud Run {_per_canary(calls, 'google.cloud.run.v2'):.2f}; "
                f"{wall / max(checked, 1) / baseline:.1f}x the baseline round-trip per canary; "
                f"Firestore per canary: {ops['rpcs'] / CANARIES:.2f} round trips, "
                f"{ops['reads'] / CANARIES:.2f} reads, {ops['writes'] / CANARIES:.2f} writes, "
                f"{ops['queries'] / CANARIES:.3f} queries"
            )

        sweep("nothing changes")
        # Once every canary's first step has lasted step_minutes, the next sweep advances all.
        time.sleep(max(0.0, started + setup + STEP_MINUTES * 60 - time.perf_counter()))
        sweep("every canary advances a step")
        listed = client.get("/v1/canaries?limit=1000", headers=headers).get_json()
        percents = statistics.multimode(c["traffic_percent"] for c in listed)
        print(f"canary bench: traffic share after the sweeps: {percents}")


if __name__ == "__main__":
    main()
