"""Deployment queue over HTTP vs its floor, in the same run.

Starts the Firestore emulator, the floor (`bench/floor/main.py`: a bare function making
the same Firestore round trips as each route) and the deployments function (auth on,
GitHub OIDC tokens from a local JWKS), then measures, floor and deployq in turns: create
(4 clients, and 8 for throughput), get, list (filtered, 100 results) and patch-to-deployed
with 1,000 older scheduled deployments in the taxonomy.

Beside the latencies, the CPU time (user + system) each serving process spent per request:
steadier than latency on a machine shared with other work, it shows what deployq costs
above the floor's round trips.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import requests

from bench.support import Result, load, table
from tests.support.emulators import Emulator, free_port, start_function
from tests.support.identity import IdentityServer

CLIENTS = 4
BURST = 8  # clients of the throughput figure
N = 400
ROUNDS = 2  # floor and deployq take turns, this many times each


def merged(name: str, runs: list[Result]) -> Result:
    """One result of several runs of one measurement."""
    return Result(
        name,
        [t for run in runs for t in run.latencies],
        sum(run.seconds for run in runs),
        sum(run.errors for run in runs),
        sum(run.cpu for run in runs),
        sum(run.cpu_requests for run in runs),
    )


TAXONOMY = {"provider": "gcp", "cloud_account_id": "bench", "region": "eu", "type": "k8s"}


def seed_scheduled(db, org: str, name: str, count: int) -> None:
    """`count` scheduled deployments of one taxonomy, written straight to Firestore."""
    from shared.auth import Principal
    from shared.deployments.rules import new_record
    from shared.store.deployments import DeploymentStore

    store = DeploymentStore(db)
    principal = Principal("local", "bench", org, "admin")
    batch, pending = db.batch(), 0
    for i in range(count):
        record = new_record(org, {**TAXONOMY, "name": name, "version": f"old-{i}"}, principal)
        store.write(batch, org, None, record)
        pending += 1
        if pending == 200:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()


def main() -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="deployq-bench-"))
    emulator = Emulator("firestore", log_dir)
    identity = IdentityServer()
    project = "bench-deployments"
    env = {
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GOOGLE_CLOUD_PROJECT": project,
        "AUTH_ENABLED": "true",
        **identity.env(),
    }
    os.environ.update(env)
    processes = []
    try:
        floor = start_function("floor", free_port(), env, log_dir, source="bench/floor/main.py")
        service = start_function("deployments", free_port(), env, log_dir)
        processes += [floor, service]
        floor_url = f"http://127.0.0.1:{floor.port}"
        base_url = f"{floor_url}/get/bench/none"
        url = f"http://127.0.0.1:{service.port}"

        def org_headers(org: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {identity.github_token(org)}"}

        # The emulator answers a query by scanning the collection group (production reads
        # an index), so each measured query gets its own organisation, and the patch
        # measurements their own projects: the figures then show deployq's cost, not the
        # emulator's scan of unrelated records.
        headers = org_headers("bench")

        from google.cloud import firestore

        db = firestore.Client(project=project)
        for _ in range(50):  # warm both processes
            requests.get(base_url, timeout=10)
            requests.get(f"{url}/v1/deployments?limit=1", headers=headers, timeout=10)

        pairs: list[tuple[Result, Result]] = []
        created: list[str] = []
        floor_created: list[dict] = []

        def create(session, i):
            response = session.post(
                f"{url}/v1/deployments",
                headers=headers,
                timeout=30,
                json={**TAXONOMY, "name": f"svc-{i % 20}", "version": f"{i}"},
            )
            created.append(response.json()["id"])
            return response

        def floor_create(session, i):
            response = session.post(
                f"{floor_url}/create/bench-floor",
                timeout=30,
                json={**TAXONOMY, "name": f"svc-{i % 20}", "version": f"{i}"},
            )
            floor_created.append(response.json())
            return response

        groups = {"floor": floor.proc.pid, "deployq": service.proc.pid}

        def side_by_side(name, ours, theirs, total=N, clients=CLIENTS, **kw):
            """Floor and deployq in turns (two rounds each), so a slow moment hits both."""
            runs: dict[str, list[Result]] = {"floor": [], "deployq": []}
            for _ in range(ROUNDS):
                for kind, call in (("floor", theirs), ("deployq", ours)):
                    runs[kind].append(
                        load(
                            name,
                            call,
                            requests_total=total,
                            clients=clients,
                            group=groups[kind],
                            **kw,
                        )
                    )
            pairs.append((merged(name, runs["deployq"]), merged(name, runs["floor"])))

        side_by_side("create", create, floor_create)
        side_by_side(f"create, {BURST} clients", create, floor_create, total=2 * N, clients=BURST)
        side_by_side(
            "get",
            lambda s, i: s.get(
                f"{url}/v1/deployments/{created[i % len(created)]}", headers=headers, timeout=30
            ),
            lambda s, i: s.get(
                f"{floor_url}/get/bench-floor/{floor_created[i % len(floor_created)]['id']}",
                timeout=30,
            ),
        )
        seed_scheduled(db, "bench-list", "listed", 300)
        list_headers = org_headers("bench-list")
        side_by_side(
            "list (name+status filter, 100 results)",
            lambda s, i: s.get(
                f"{url}/v1/deployments?name=listed&status=scheduled&limit=100",
                headers=list_headers,
                timeout=30,
            ),
            lambda s, i: s.get(
                f"{floor_url}/list/bench-list?name=listed&status=scheduled&limit=100", timeout=30
            ),
            total=N // 2,
        )

        def own_project(name: str):
            """A deployments process on a project of its own, warmed, its address and database.

            The emulator answers a query by scanning every document of the collection
            group in the project, deleted ones included (production reads an index), so
            each patch measurement gets a project of its own: what the earlier sections
            wrote stays out of its queue queries.
            """
            process = start_function(
                "deployments", free_port(), {**env, "GOOGLE_CLOUD_PROJECT": name}, log_dir
            )
            processes.append(process)
            address = f"http://127.0.0.1:{process.port}"
            for _ in range(50):
                requests.get(f"{address}/v1/deployments?limit=1", headers=headers, timeout=10)
            return process, address, firestore.Client(project=name)

        # patch-to-deployed: each client owns a taxonomy holding 1,000 older scheduled
        # deployments; its first patch skips all 1,000, later ones find the queue clean.
        patch_process, patch_url, patch_db = own_project(f"{project}-patch")
        groups["deployq"] = patch_process.proc.pid
        targets: dict[int, list[str]] = {}
        floor_targets: dict[int, list[dict]] = {}
        patch_headers = {client: org_headers(f"bench-p{client}") for client in range(CLIENTS)}
        per_client = ROUNDS * N // CLIENTS
        for client in range(CLIENTS):
            seed_scheduled(patch_db, f"bench-p{client}", f"patched-{client}", 1000)
            targets[client], floor_targets[client] = [], []
            for j in range(per_client):
                body = {**TAXONOMY, "name": f"patched-{client}", "version": f"new-{j}"}
                response = requests.post(
                    f"{patch_url}/v1/deployments",
                    headers=patch_headers[client],
                    timeout=30,
                    json=body,
                )
                targets[client].append(response.json()["id"])
                response = requests.post(f"{floor_url}/create/floor-p{client}", json=body)
                floor_targets[client].append(response.json())
        first_patch = [0.0] * CLIENTS
        patched = {"deployq": 0, "floor": 0}

        def patch(session, i):
            client, j = i % CLIENTS, patched["deployq"] // CLIENTS + i // CLIENTS
            response = session.patch(
                f"{patch_url}/v1/deployments/{targets[client][j]}",
                json={"status": "deployed"},
                headers=patch_headers[client],
                timeout=60,
            )
            if j == 0:
                first_patch[client] = response.elapsed.total_seconds() * 1000
            return response

        def floor_patch(session, i):
            client, j = i % CLIENTS, patched["floor"] // CLIENTS + i // CLIENTS
            record = floor_targets[client][j]
            return session.patch(
                f"{floor_url}/patch/floor-p{client}/{record['id']}",
                params={"key": record["taxonomy_key"], "created_at": record["created_at"]},
                json={"status": "deployed"},
                timeout=60,
            )

        runs: dict[str, list[Result]] = {"floor": [], "deployq": []}
        for round_ in range(ROUNDS):
            for kind, call in (("floor", floor_patch), ("deployq", patch)):
                # CPU from the rounds after the first: the first holds each taxonomy's
                # auto-skip of 1,000 records, which the floor has no counterpart of.
                group = groups[kind] if round_ > 0 else None
                runs[kind].append(
                    load(
                        "patch",
                        call,
                        requests_total=N,
                        clients=CLIENTS,
                        partitioned=True,
                        group=group,
                    )
                )
                patched[kind] += N
        pairs.append(
            (
                merged("patch to deployed (1,000 older scheduled in taxonomy)", runs["deployq"]),
                merged("patch", runs["floor"]),
            )
        )
        from google.cloud.firestore_v1.base_query import FieldFilter

        skipped = list(
            patch_db.collection("organisations")
            .document("bench-p0")
            .collection("deployments")
            .where(filter=FieldFilter("status", "==", "skipped"))
            .where(filter=FieldFilter("name", "==", "patched-0"))
            .limit(2000)
            .stream()
        )
        rows = [
            ["operation", "p50 ms", "p99 ms", "req/s", "errors", "floor p50", "floor req/s"]
            + ["p50 / floor", "req/s / floor", "cpu ms/req", "floor cpu ms/req", "cpu / floor"]
        ]
        for ours, theirs in pairs:
            rows.append(
                [
                    ours.name,
                    f"{ours.p50:.1f}",
                    f"{ours.p99:.1f}",
                    f"{ours.rps:.0f}",
                    str(ours.errors + theirs.errors),
                    f"{theirs.p50:.1f}",
                    f"{theirs.rps:.0f}",
                    f"{ours.p50 / theirs.p50:.2f}x",
                    f"{ours.rps / theirs.rps:.2f}x",
                    f"{ours.cpu_ms:.2f}",
                    f"{theirs.cpu_ms:.2f}",
                    f"{ours.cpu_ms / theirs.cpu_ms:.2f}x",
                ]
            )
        print(
            f"\n== deployments vs the floor ({CLIENTS} concurrent clients unless named, auth on, "
            f"Firestore emulator; floor: bench/floor/main.py, the same round trips)"
        )
        print(table(rows))
        print(
            f"first patch of each taxonomy (auto-skips 1,000): "
            f"{', '.join(f'{ms:.0f} ms' for ms in first_patch)}; "
            f"skipped in one taxonomy: {len(skipped)} (expected 1,000)"
        )
        print(
            "cpu ms/req: user + system CPU time of the serving process per request "
            "(patch: the rounds after the first, which holds the auto-skips)"
        )
    finally:
        for process in processes:
            process.stop()
        emulator.stop()
        identity.close()


if __name__ == "__main__":
    main()
