"""The demo organisation `acme` and its weeks of history, created through the deployments
function's own handler in this process with the clock set back to each moment."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORG = "acme"
REGION = "europe-west1"
SERVICES = ("web", "api", "worker")
ACCOUNTS = {"staging": "acme-staging", "production": "acme-prod"}
PEOPLE = ("alice", "bob", "carol")
HISTORY_DAYS = 21


# -- history through the deployments handler, clock set back ------------------------------


class Clock:
    """shared.clock.utcnow replaced: the moment being replayed, or the real time."""

    def __init__(self):
        from shared import clock

        self.real = clock.utcnow
        self.moment: datetime | None = None
        clock.utcnow = self

    def __call__(self) -> datetime:
        return self.moment or self.real()

    def at(self, moment: datetime) -> None:
        self.moment = moment

    def restore(self) -> None:
        from shared import clock

        clock.utcnow = self.real


class History:
    """The deployments function's own handler, called in-process with a chosen clock."""

    def __init__(self, env: dict[str, str]):
        import functions_framework

        os.environ.update(env)
        self.clock = Clock()
        app = functions_framework.create_app(
            "deployments", str(ROOT / "functions" / "deployments" / "main.py")
        )
        self.client = app.test_client()

    def call(self, method: str, path: str, actor: str, body: dict | None = None) -> dict:
        headers = {"X-Organisation": ORG, "X-Actor": actor, "User-Agent": "deployq-demo"}
        response = self.client.open(path, method=method, json=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(True)}")
        return response.get_json()

    def release(
        self, moment: datetime, service: str, environment: str, version: int, outcome="deployed"
    ) -> dict:
        """Create a deployment at `moment` and take it through in_progress to `outcome`."""
        actor = PEOPLE[version % len(PEOPLE)]
        self.clock.at(moment)
        record = self.call(
            "POST",
            "/v1/deployments",
            f"{actor}",
            {
                **taxonomy(service, environment),
                "version": f"1.{version}.0",
                "environment": environment,
                "commit_sha": f"{abs(hash((service, version))) % 16**10:010x}",
                "commit_timestamp": iso(moment - timedelta(hours=2 + version % 5)),
                "description": f"{service} 1.{version}.0",
                "build_uri": f"https://github.com/acme/{service}/actions/runs/{1000 + version}",
            },
        )
        self.clock.at(moment + timedelta(minutes=3))
        self.call("PATCH", f"/v1/deployments/{record['id']}", "ci", {"status": "in_progress"})
        self.clock.at(moment + timedelta(minutes=11))
        notes = "smoke tests failed: 5xx on /checkout" if outcome == "failed" else None
        patch = {"status": outcome, **({"notes": notes} if notes else {})}
        return self.call("PATCH", f"/v1/deployments/{record['id']}", "ci", patch)

    def close(self) -> None:
        self.clock.restore()


def taxonomy(service: str, environment: str) -> dict:
    return {
        "name": service,
        "provider": "gcp",
        "cloud_account_id": ACCOUNTS[environment],
        "region": REGION,
        "type": "k8s",
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed_history(env: dict[str, str], days: int = HISTORY_DAYS) -> dict:
    """Weeks of releases; returns the ids of the restored failure and the rollback."""
    rng = random.Random(7)
    history = History(env)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    versions = dict.fromkeys(SERVICES, 0)
    found: dict[str, str] = {}
    try:
        for day in range(days - 1):
            base = start + timedelta(days=day, hours=9)
            for n, service in enumerate(SERVICES):
                if rng.random() < (0.35 if service == "worker" else 0.6):
                    continue
                versions[service] += 1
                version = versions[service]
                moment = base + timedelta(hours=n * 2, minutes=rng.randrange(50))
                history.release(moment, service, "staging", version)
                prod = moment + timedelta(hours=3)
                if service == "api" and day == 9:
                    failed = history.release(prod, service, "production", version, "failed")
                    found["failure"] = failed["id"]
                    versions[service] += 1
                    fix = history.release(
                        prod + timedelta(hours=2), service, "staging", versions[service]
                    )
                    restored = history.release(
                        prod + timedelta(hours=3), service, "production", versions[service]
                    )
                    found["restored_by"] = restored["id"]
                    found["fix_staging"] = fix["id"]
                elif service == "web" and day == 14:
                    bad = history.release(prod, service, "production", version)
                    history.clock.at(prod + timedelta(hours=1))
                    back = history.call("POST", f"/v1/deployments/{bad['id']}/rollback", "bob")
                    history.clock.at(prod + timedelta(hours=1, minutes=4))
                    history.call(
                        "PATCH", f"/v1/deployments/{back['id']}", "ci", {"status": "deployed"}
                    )
                    found["rolled_back"] = bad["id"]
                    found["rollback"] = back["id"]
                else:
                    history.release(prod, service, "production", version)
        found["versions"] = versions
    finally:
        history.close()
    return found
