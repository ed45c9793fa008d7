"""Deployment queue over HTTP vs a bare function doing one Firestore get, in the same run.

Starts the Firestore emulator, the baseline function and the deployments
function (auth on, GitHub OIDC tokens from a local JWKS), then measures
create, get, list (filtered, 100 results) and patch-to-deployed with 1,000
older scheduled deployments in the taxonomy, and the cold import of main.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import requests

from bench.support import Result, cold_imports, load, table
from tests.support.emulators import Emulator, free_port, start_function
from tests.support.identity import IdentityServer

CLIENTS = 4
N = 400
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
        baseline = start_function(
            "baseline", free_port(), env, log_dir, source="bench/baseline/main.py"
        )
        service = start_function("deployments", free_port(), env, log_dir)
        processes += [baseline, service]
        base_url = f"http://127.0.0.1:{baseline.port}"
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
        db.collection("bench").document("baseline").set({"value": 1})
        results: list[Result] = []
        for _ in range(50):  # warm both processes
            requests.get(base_url, timeout=10)
            requests.get(f"{url}/v1/deployments?limit=1", headers=headers, timeout=10)

        results.append(
            load(
                "baseline: bare function, one Firestore get",
                lambda s, i: s.get(base_url, timeout=30),
                requests_total=N,
                clients=CLIENTS,
            )
        )
        created: list[str] = []

        def create(session, i):
            response = session.post(
                f"{url}/v1/deployments",
                headers=headers,
                timeout=30,
                json={**TAXONOMY, "name": f"svc-{i % 20}", "version": f"{i}"},
            )
            created.append(response.json()["id"])
            return response

        results.append(load("create", create, requests_total=N, clients=CLIENTS))
        results.append(
            load(
                "get",
                lambda s, i: s.get(
                    f"{url}/v1/deployments/{created[i % len(created)]}", headers=headers, timeout=30
                ),
                requests_total=N,
                clients=CLIENTS,
            )
        )
        seed_scheduled(db, "bench-list", "listed", 300)
        list_headers = org_headers("bench-list")
        results.append(
            load(
                "list (name+status filter, 100 results)",
                lambda s, i: s.get(
                    f"{url}/v1/deployments?name=listed&status=scheduled&limit=100",
                    headers=list_headers,
                    timeout=30,
                ),
                requests_total=N // 2,
                clients=CLIENTS,
            )
        )

        def own_project(name: str):
            """A deployments process on a project of its own, warmed, and its database.

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
            return address, firestore.Client(project=name)

        # patch-to-deployed: each client owns a taxonomy holding 1,000 older scheduled
        # deployments; its first patch skips all 1,000, later ones find the queue clean.
        patch_url, patch_db = own_project(f"{project}-patch")
        targets: dict[int, list[str]] = {}
        patch_headers = {client: org_headers(f"bench-p{client}") for client in range(CLIENTS)}
        for client in range(CLIENTS):
            seed_scheduled(patch_db, f"bench-p{client}", f"patched-{client}", 1000)
            targets[client] = []
            for j in range(N // CLIENTS):
                response = requests.post(
                    f"{patch_url}/v1/deployments",
                    headers=patch_headers[client],
                    timeout=30,
                    json={**TAXONOMY, "name": f"patched-{client}", "version": f"new-{j}"},
                )
                targets[client].append(response.json()["id"])
        first_patch = [0.0] * CLIENTS

        def patch(session, i):
            client, j = i % CLIENTS, i // CLIENTS
            response = session.patch(
                f"{patch_url}/v1/deployments/{targets[client][j]}",
                json={"status": "deployed"},
                headers=patch_headers[client],
                timeout=60,
            )
            if j == 0:
                first_patch[client] = response.elapsed.total_seconds() * 1000
            return response

        results.append(
            load(
                "patch to deployed (1,000 older scheduled in taxonomy)",
                patch,
                requests_total=N,
                clients=CLIENTS,
                partitioned=True,
            )
        )
        # The same with one client, next to a one-client baseline.
        solo_url, solo_db = own_project(f"{project}-solo")
        solo_headers = org_headers("bench-solo")
        seed_scheduled(solo_db, "bench-solo", "solo", 1000)
        solo = [
            requests.post(
                f"{solo_url}/v1/deployments",
                headers=solo_headers,
                timeout=30,
                json={**TAXONOMY, "name": "solo", "version": f"new-{j}"},
            ).json()["id"]
            for j in range(N // CLIENTS + 1)
        ]
        requests.patch(
            f"{solo_url}/v1/deployments/{solo[0]}",
            json={"status": "deployed"},
            headers=solo_headers,
            timeout=60,
        )
        solo_base = load(
            "baseline, one client",
            lambda s, i: s.get(base_url, timeout=30),
            requests_total=N // CLIENTS,
            clients=1,
        )
        solo_patch = load(
            "patch to deployed, one client",
            lambda s, i: s.patch(
                f"{solo_url}/v1/deployments/{solo[i + 1]}",
                json={"status": "deployed"},
                headers=solo_headers,
                timeout=60,
            ),
            requests_total=N // CLIENTS,
            clients=1,
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
        # The bare read auto-skip makes (the taxonomy's queue), next to the patch figures.
        import statistics
        import time

        from shared.models.deployment import taxonomy_key
        from shared.store.deployments import DeploymentStore

        store = DeploymentStore(patch_db)
        key = taxonomy_key({**TAXONOMY, "name": "patched-0"})
        samples = []
        for _ in range(30):
            started = time.perf_counter()
            store.queued("bench-p0", key)
            samples.append((time.perf_counter() - started) * 1000)
        collection_size = (
            patch_db.collection("organisations")
            .document("bench-p0")
            .collection("deployments")
            .count()
            .get()[0][0]
            .value
        )
        base = results[0]
        rows = [["operation", "p50 ms", "p99 ms", "req/s", "errors", "p50 / baseline p50"]]
        for result in results:
            rows.append(
                [
                    result.name,
                    f"{result.p50:.1f}",
                    f"{result.p99:.1f}",
                    f"{result.rps:.0f}",
                    str(result.errors),
                    f"{result.p50 / base.p50:.2f}x",
                ]
            )
        print(f"\n== deployments ({CLIENTS} concurrent clients, Firestore emulator)")
        print(table(rows))
        print(
            f"first patch of each taxonomy (auto-skips 1,000): "
            f"{', '.join(f'{ms:.0f} ms' for ms in first_patch)}; "
            f"skipped in one taxonomy: {len(skipped)} (expected 1,000)"
        )
        print(
            f"one client: patch to deployed p50 {solo_patch.p50:.1f} ms vs baseline p50 "
            f"{solo_base.p50:.1f} ms = {solo_patch.p50 / solo_base.p50:.2f}x "
            f"({solo_patch.errors} errors)"
        )
        print(
            f"bare read of that taxonomy's queue (the organisation holds "
            f"{collection_size} deployments), one client, no HTTP: "
            f"p50 {statistics.median(samples):.1f} ms"
        )
        # A 100-record page costs what Firestore takes to return 100 documents: compare the
        # list with the bare query of the same shape (in-process, no HTTP, one client).
        list_query = (
            db.collection("organisations")
            .document("bench-list")
            .collection("deployments")
            .where(filter=FieldFilter("name", "==", "listed"))
            .where(filter=FieldFilter("status", "==", "scheduled"))
            .order_by("created_at", direction="DESCENDING")
            .order_by("__name__", direction="DESCENDING")
            .limit(101)
        )
        list_samples = []
        for _ in range(30):
            started = time.perf_counter()
            [snapshot.to_dict() for snapshot in list_query.stream()]
            list_samples.append((time.perf_counter() - started) * 1000)
        bare_list = statistics.median(list_samples)
        print(
            f"bare query of the list's shape (100 documents decoded), no HTTP: p50 "
            f"{bare_list:.1f} ms; list p50 / that = {results[3].p50 / bare_list:.2f}x"
        )

        base_import, main_import = cold_imports(
            "import functions_framework, google.cloud.firestore",
            "import importlib.util\n"
            "spec = importlib.util.spec_from_file_location(\n"
            "    'main', 'functions/deployments/main.py')\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))",
        )
        print(
            f"cold import: functions/deployments/main.py {main_import:.0f} ms vs "
            f"functions_framework + google.cloud.firestore {base_import:.0f} ms "
            f"= {main_import / base_import:.2f}x"
        )
    finally:
        for process in processes:
            process.stop()
        emulator.stop()
        identity.close()


if __name__ == "__main__":
    main()
