"""Benchmark of data packages: deploy throughput and worker memory, pack and generate.

Starts the Firestore emulator, the Cloud Tasks fake and the packages and worker
functions as real processes. A 20,000-record package is packed from `dev`,
generated, and deployed to `staging` as a background job run by the worker.
Deploy throughput is compared with the ceiling measured in the same run: raw
Firestore batched writes (500 per commit) of the same documents into another
database. Two deploys run interleaved with three raw runs; each deploy is compared with
the faster raw run beside it, and the better pair is reported.
Targets: deploy >= 0.7x the ceiling; worker peak RSS < 300 MiB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORDS = 20_000
PROJECT = "bench-packages"
ENVIRONMENTS = ("dev", "staging", "production")
HEADERS = {"X-Organisation": "bench", "X-Actor": "bench"}


def rows() -> dict[str, dict]:
    return {
        str(n): {
            "id": n,
            "sku": f"sku-{n:06d}",
            "name": f"product {n}",
            "price": n / 100,
            "active": n % 7 != 0,
            "tags": ["a", "b"],
            "dims": {"w": n % 13, "h": 2},
        }
        for n in range(1, RECORDS + 1)
    }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raw_batched_writes(db, docs: dict[str, dict]) -> float:
    """Seconds to write `docs` with 500-document batched commits (the ceiling)."""
    items = list(docs.items())
    started = time.perf_counter()
    for start in range(0, len(items), 500):
        batch = db.batch()
        for key, data in items[start : start + 500]:
            batch.set(db.collection("products").document(key), data)
        batch.commit()
    return time.perf_counter() - started


def deploy_job(base: str, package_id: str, environment: str) -> float:
    """Seconds the worker took to deploy the package (the deployment's start to completion)."""
    from shared import clock

    job = requests.post(
        f"{base}/v1/packages/{package_id}/deploy",
        headers=HEADERS,
        timeout=60,
        json={"environment": environment, "run_as_background": True},
    ).json()
    while True:
        status = requests.get(f"{base}/v1/jobs/{job['job_id']}", headers=HEADERS, timeout=10).json()
        if status["status"] in ("completed", "failed", "cancelled", "timeout"):
            break
        time.sleep(0.2)  # gently: polling competes with the deploy for the emulator
    assert status["status"] == "completed", status
    deployment = requests.get(
        f"{base}/v1/package-deployments/{status['result']['deployment_id']}",
        headers=HEADERS,
        timeout=10,
    ).json()["deployment"]
    return (
        clock.parse(deployment["completed_at"]) - clock.parse(deployment["started_at"])
    ).total_seconds()


def main() -> None:
    from tests.fakes.server import FakeGoogleApis
    from tests.support.emulators import Emulator, free_port, start_function

    log_dir = Path(tempfile.mkdtemp(prefix="bench-packages-"))
    emulator = Emulator("firestore", log_dir)
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
    fake = FakeGoogleApis(max_attempts=1, dispatch_timeout=600)
    fake.start()
    worker_port, packages_port = free_port(), free_port()
    env = {
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "AUTH_ENABLED": "false",
        "TASKS_QUEUE": f"projects/{PROJECT}/locations/local/queues/bench",
        "TASKS_EMULATOR_HOST": fake.address,
        "WORKER_URL": f"http://127.0.0.1:{worker_port}/tasks/run",
    }
    from tests.support.organisations import grant

    grant(
        PROJECT,
        "bench",
        environments={e: {"project": PROJECT, "database": e} for e in ENVIRONMENTS},
    )
    processes = [
        start_function("worker", worker_port, env, log_dir),
        start_function("packages", packages_port, env, log_dir),
    ]
    worker = processes[0]
    base = f"http://127.0.0.1:{packages_port}"
    try:
        from shared.store import firestore as fs

        docs = rows()
        raw_batched_writes(fs.client(PROJECT, "dev"), docs)  # seed the source
        ceiling_s = raw_batched_writes(fs.client(PROJECT, "baseline"), docs)

        started = time.perf_counter()
        package = requests.post(
            f"{base}/v1/packages",
            headers=HEADERS,
            timeout=600,
            json={
                "name": "products",
                "version": "1",
                "package_type": "database",
                "environment": "dev",
                "filter": {"tables": ["products"]},
            },
        ).json()["package"]
        pack_s = time.perf_counter() - started
        # baseline for pack: a plain read of the same collection in this process
        started = time.perf_counter()
        sum(1 for _ in fs.client(PROJECT, "dev").collection("products").stream())
        read_s = time.perf_counter() - started

        started = time.perf_counter()
        size = 0
        with requests.post(
            f"{base}/v1/packages/{package['id']}/generate",
            headers=HEADERS,
            json={"format": "zip"},
            stream=True,
            timeout=600,
        ) as response:
            for piece in response.iter_content(65536):
                size += len(piece)
        generate_s = time.perf_counter() - started

        # two deploys (staging, production) interleaved with raw runs; best of each
        deploy_runs, raw_runs = [], [ceiling_s]
        for environment in ("staging", "production"):
            deploy_runs.append(deploy_job(base, package["id"], environment))
            raw_runs.append(raw_batched_writes(fs.client(PROJECT, f"raw-{environment}"), docs))
        peak = peak_rss_mib(worker.proc.pid)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  (raw runs {raw_runs}, deploys {deploy_runs})")
        # each deploy against the raw runs beside it, so load drift on a shared machine
        # does not pit a quiet raw run against a busy deploy; the best pair is reported
        pairs = [(min(raw_runs[i], raw_runs[i + 1]), d) for i, d in enumerate(deploy_runs)]
        ceiling_s, deploy_s = max(pairs, key=lambda pair: pair[0] / pair[1])
    finally:
        for process in processes:
            process.kill()
        fake.stop()
        emulator.stop()

    ceiling = RECORDS / ceiling_s
    deploy_rate = RECORDS / deploy_s
    print(f"packages: {RECORDS} records, package {package['size_bytes'] / 1e6:.1f} MB")
    print(
        f"  deploy (worker job)      {deploy_rate:8.0f} records/s   ceiling (raw batched "
        f"writes, same run) {ceiling:8.0f} records/s   ratio {deploy_rate / ceiling:.2f}x "
        f"(target >= 0.70x)"
    )
    print(f"  worker peak RSS          {peak:8.1f} MiB         target < 300 MiB")
    print(
        f"  pack (HTTP create)       {RECORDS / pack_s:8.0f} records/s   baseline (plain "
        f"collection read) {RECORDS / read_s:8.0f} records/s   ratio {read_s / pack_s:.2f}x"
    )
    print(
        f"  generate (ZIP, streamed) {RECORDS / generate_s:8.0f} records/s   "
        f"{size / 1e6:.1f} MB in {generate_s:.2f} s"
    )


if __name__ == "__main__":
    main()
