"""The demo organisation `acme`, seeded by `make dev` (unless DEMO=0) and by the browser tests.

    python scripts/demo.py fakes --port 8202     the Google API fake with two Cloud Run
                                                 services and scripted traffic
    python scripts/demo.py seed                  history, queue, approvals, runbooks, data,
                                                 packages and two canaries on the dev stack

History: three services in staging and production over three weeks, created through the
deployments API itself (its handler, in this process, with the clock set back to each
moment), so the audit log, DORA and the queue hold the same records a real team leaves.
One production failure of `api` is restored by the next deployment; one `web` release is
rolled back. Everything after that goes through the running functions over HTTP.
Traffic: `web`'s new revision stays healthy and its canary promotes within a few minutes;
`api`'s new revision starts failing at 50% so the automatic rollback can be watched.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.demo_history import ORG, PEOPLE, REGION, iso, seed_history, taxonomy  # noqa: E402

RUN_PROJECT = "acme-prod"
REVISIONS = {
    "web": ("web-00041-old", "web-00042-new"),
    "api": ("api-00017-old", "api-00018-new"),
}


# -- the fake's Cloud Run services and their traffic --------------------------------------


def lively(traffic):
    """Windows that vary a little from check to check, as real traffic does."""
    plain = traffic.window
    rng = random.Random(traffic.service)

    def window(revision: str) -> dict | None:
        figures = plain(revision)
        if figures is None:
            return None
        scale = rng.uniform(0.8, 1.2)
        ok = int(figures["requests"]["2xx"] * scale)
        errors = int(round(figures["requests"]["5xx"] * scale * rng.uniform(0.5, 1.5)))
        latencies = [v * rng.uniform(0.6, 1.5) for v in figures["latencies_ms"]]
        return {"requests": {"2xx": ok, "5xx": errors}, "latencies_ms": latencies}

    traffic.window = window
    return traffic


def install_demo_services(fake) -> None:
    """`web` and `api` with a serving and a new revision; Monitoring answers by traffic share."""
    from tests.support.canary import Traffic, install

    traffics = []
    for service, (stable, canary) in REVISIONS.items():
        if service not in fake.run.services_of(RUN_PROJECT):
            fake.run.add_service(
                RUN_PROJECT,
                REGION,
                service,
                revisions=[stable, canary],
                traffic=[{"revision": stable, "percent": 100}],
            )
        traffic = Traffic(fake, service, canary, stable, project=RUN_PROJECT, region=REGION)
        traffic.stable_profile = {"requests": 2000, "errors_pct": 0.2, "latency_ms": 120}
        traffic.canary_profile = {"requests": 300, "errors_pct": 0.3, "latency_ms": 130}
        if service == "api":
            # The new api revision breaks under real load: 5xx and slow answers from 50%.
            traffic.canary_at[50] = {"errors_pct": 12.0, "latency_ms": 2600}
        traffics.append(lively(traffic))
    install(fake, *traffics)


def run_fakes(port: int, seed: Path | None = None) -> int:
    """The fake Google APIs process of `make dev`, with the demo services installed (and the
    services of a `--seed` file, as `python -m tests.fakes --seed` installs them)."""
    from tests.fakes import FakeGoogleApis
    from tests.fakes.__main__ import _seed

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    fake = FakeGoogleApis()
    fake.start(port)
    try:
        install_demo_services(fake)
        if seed is not None:
            _seed(fake, seed)
        print(f"fake google apis with the demo services on {fake.address}", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


# -- the present, over HTTP ---------------------------------------------------------------


class Http:
    def __init__(self, urls: dict[str, str]):
        import requests

        self.session = requests.Session()
        self.urls = urls

    def call(self, service: str, method: str, path: str, body=None, actor="alice", ok=(200, 201)):
        headers = {"X-Organisation": ORG, "X-Actor": actor, "User-Agent": "deployq-demo"}
        response = self.session.request(
            method, self.urls[service] + path, json=body, headers=headers, timeout=60
        )
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


RUNBOOKS = [
    {
        "title": "api: 5xx after a release",
        "service": "api",
        "environment": "production",
        "tags": ["errors", "rollback"],
        "content": "# 5xx after a release\n\n1. Open the canary page and read the failing "
        "check's **reason**.\n2. Roll back from the deployment page (*Roll back*, empty "
        "version = previous).\n3. Check `db-connections` on the dashboard.\n\n"
        "```\ndeployq deployments rollback --name api\n```\n",
    },
    {
        "title": "web: slow pages",
        "service": "web",
        "tags": ["latency"],
        "content": "## Slow pages\n\n- Compare **p99** of canary and stable.\n"
        "- If only the canary is slow, abort it.\n- See [Cloud Run docs]"
        "(https://cloud.google.com/run/docs).\n",
    },
    {
        "title": "Freeze windows and overrides",
        "content": "Only an *admin* may pass a freeze window, with an `override_reason`.",
        "tags": ["policy"],
    },
]


def seed_present(http: Http, versions: dict[str, int]) -> dict:
    """Runbooks, a production approval policy, waiting and running work; returns some ids."""
    ids: dict[str, object] = {}
    for runbook in RUNBOOKS:
        http.call("deployments", "POST", "/v1/runbooks", runbook)
    # Waiting work in staging: three scheduled releases of worker (older ones skip when
    # the newest is deployed) and one in progress.
    for step in range(1, 4):
        committed = iso(datetime.now(UTC) - timedelta(hours=step))
        queue(http, versions, "worker", "staging", PEOPLE[step % 3], commit_timestamp=committed)
    running = queue(http, versions, "api", "staging")
    http.call("deployments", "PATCH", f"/v1/deployments/{running['id']}", {"status": "in_progress"})
    # The canaries' deployments exist before production requires approval.
    for service in REVISIONS:
        record = queue(
            http,
            versions,
            service,
            "production",
            "carol",
            commit_timestamp=iso(datetime.now(UTC) - timedelta(hours=1)),
            description=f"{service} through a canary",
        )
        ids[f"canary_deployment_{service}"] = record["id"]
    http.call(
        "deployments",
        "PUT",
        "/v1/policies/production",
        {"requires_approval": True, "min_approvals": 1, "prevent_self_approval": True},
    )
    pending = []
    for service in ("worker", "web"):
        waiting = f"{service} waiting for approval"
        pending.append(queue(http, versions, service, "production", description=waiting)["id"])
    ids["pending"] = pending
    return ids


def queue(
    http: Http, versions: dict[str, int], service: str, environment: str, actor="alice", **fields
) -> dict:
    """Queue the next version of `service` in `environment` as `actor`."""
    versions[service] += 1
    body = {
        **taxonomy(service, environment),
        "version": f"1.{versions[service]}.0",
        "environment": environment,
        **fields,
    }
    return http.call("deployments", "POST", "/v1/deployments", body, actor=actor)


def seed_data(env: dict[str, str]) -> None:
    """Rows in the `dev` environment's database for a package to capture."""
    from google.cloud import firestore

    client = firestore.Client(project=env["GOOGLE_CLOUD_PROJECT"], database="dev")
    batch = client.batch()
    for plan_id, tier, price in ((1, "free", 0), (2, "pro", 29), (3, "team", 99)):
        batch.set(client.collection("plans").document(str(plan_id)), {"id": plan_id, "tier": tier})
        batch.set(
            client.collection("prices").document(str(plan_id * 10)),
            {"id": plan_id * 10, "plan_id": plan_id, "eur": price, "active": True},
        )
    for n in range(1, 6):
        batch.set(
            client.collection("feature_flags").document(f"flag-{n}"),
            {"name": f"flag-{n}", "enabled": n % 2 == 0},
        )
    batch.commit()


def seed_packages(http: Http) -> dict:
    """One database package packed from dev and deployed to staging."""
    created = http.call(
        "packages",
        "POST",
        "/v1/packages",
        {
            "name": "pricing",
            "version": "2026.12",
            "package_type": "database",
            "environment": "dev",
            "description": "December price list",
            "filter": {
                "tables": [
                    "plans",
                    {
                        "name": "prices",
                        "primary_key": "id",
                        "foreign_keys": [{"column": "plan_id", "references": "plans.id"}],
                    },
                ]
            },
        },
    )
    package = created["package"]
    deployed = http.call(
        "packages",
        "POST",
        f"/v1/packages/{package['id']}/deploy",
        {"environment": "staging", "options": {"update_existing": True}},
    )
    return {"package": package["id"], "package_deployment": deployed["deployment"]["id"]}


def start_canaries(
    http: Http, ids: dict, step_minutes: float = 1.0, interval_seconds: float = 10
) -> dict:
    """`web` (healthy, promotes) and `api` (fails at 50%, rolls back), linked to deployments."""
    started = {}
    for service, (stable, canary) in REVISIONS.items():
        body = {
            "project": RUN_PROJECT,
            "region": REGION,
            "service": service,
            "canary_revision": canary,
            "stable_revision": stable,
            "deployment_id": ids.get(f"canary_deployment_{service}"),
            "strategy": "canary",
            "steps": [10, 25, 50],
            "step_minutes": step_minutes,
            "interval_seconds": interval_seconds,
            "thresholds": {
                "max_error_rate_pct": 2.0,
                "max_p95_ms": 1500,
                "max_p99_ms": 2500,
                "min_requests": 100,
            },
        }
        started[service] = http.call("canary", "POST", "/v1/canaries", body, actor="carol")["id"]
    return started


def grant_targets(http: Http, project: str) -> None:
    """Where the organisations routes are served (contract/organisations.md), make sure acme's
    record grants the `dev` and `staging` databases and the demo's Cloud Run services."""
    url = f"{http.urls['deployments']}/v1/organisations/{ORG}"
    answer = http.session.get(url, timeout=30)
    if answer.status_code == 404 and "no route" in answer.text:
        return  # organisation records are not served by this deployments function
    record = answer.json() if answer.ok else {}
    environments = dict(record.get("environments") or {})
    for name in ("dev", "staging"):
        environments.setdefault(name, {"project": project, "database": name})
    services = list(record.get("cloud_run_services") or [])
    pattern = f"projects/{RUN_PROJECT}/locations/{REGION}/services/*"
    if pattern not in services:
        services.append(pattern)
    body = {k: v for k, v in record.items() if k in ("members", "github")}
    body.update({"environments": environments, "cloud_run_services": services})
    saved = http.session.put(url, json=body, timeout=30)
    if not saved.ok:
        print(f"could not grant the demo's targets: {saved.status_code} {saved.text}", flush=True)


def seed(urls: dict[str, str], env: dict[str, str], *, canaries: bool = True, **speed) -> dict:
    """The whole demo; returns the ids tests and the README point at."""
    found = seed_history(env)
    versions = found.pop("versions")
    http = Http(urls)
    grant_targets(http, env["GOOGLE_CLOUD_PROJECT"])
    http.call("deployments", "POST", "/v1/events:sweep")
    found.update(seed_present(http, versions))
    seed_data(env)
    found.update(seed_packages(http))
    if canaries:
        found["canaries"] = start_canaries(http, found, **speed)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fakes = sub.add_parser("fakes", help="the Google API fake with the demo services")
    fakes.add_argument("--port", type=int, default=8202)
    fakes.add_argument("--seed", type=Path, help="JSON of more services (tests.fakes --seed)")
    seeder = sub.add_parser("seed", help="seed organisation acme on the running `make dev` stack")
    seeder.add_argument(
        "--stack",
        type=Path,
        help='JSON {"urls": {function: url}, "env": {...}, "canaries": bool} of another stack '
        "(the browser tests); the ids found are printed as JSON",
    )
    args = parser.parse_args(argv)
    if args.command == "fakes":
        return run_fakes(args.port, args.seed)
    if args.stack:
        stack = json.loads(args.stack.read_text())
        found = seed(stack["urls"], stack["env"], canaries=stack.get("canaries", True))
        print(json.dumps(found), flush=True)
        return 0
    from scripts.dev import FUNCTIONS, function_env

    urls = {name: f"http://127.0.0.1:{port}" for name, port in FUNCTIONS.items()}
    started = time.monotonic()
    found = seed(urls, function_env())
    print(f"demo organisation {ORG} seeded in {time.monotonic() - started:.0f} s", flush=True)
    print(f"  canaries: {found.get('canaries')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
