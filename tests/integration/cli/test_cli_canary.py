"""`deployq canary start|status|list|watch|promote|abort` against the real canary function
(served over HTTP, Firestore emulator, Cloud Run and Monitoring fakes); checks are driven by
the sweep, as Cloud Scheduler drives them."""

from __future__ import annotations

import threading

import pytest
import requests

PROJECT, REGION, SERVICE = "shop-prod", "europe-west1", "web"


@pytest.fixture
def web(fake_apis):
    fake_apis.run.add_service(
        PROJECT,
        REGION,
        SERVICE,
        revisions=["web-1", "web-2"],
        traffic=[{"revision": "web-1", "percent": 100}],
    )

    def script(project, service, revision, start, end):
        return {"requests": {"2xx": 50}, "latencies_ms": [30.0] * 20}

    fake_apis.monitoring.script(script)
    return fake_apis


def shares(fake) -> dict[str, int]:
    found: dict[str, int] = {}
    for entry in fake.run.service(PROJECT, REGION, SERVICE)["traffic"]:
        found[entry["revision"]] = found.get(entry["revision"], 0) + entry["percent"]
    return {rev: pct for rev, pct in found.items() if pct}


def start(cli, *extra: str):
    return cli(
        "canary",
        "start",
        "--project",
        PROJECT,
        "--region",
        REGION,
        "--service",
        SERVICE,
        "--canary-revision",
        "web-2",
        "--steps",
        "10",
        "--step-minutes",
        "0.02",
        "--interval-seconds",
        "1",
        "--min-requests",
        "10",
        "--json",
        *extra,
    )


class Sweeper:
    """Cloud Scheduler's part: calls the sweep until stopped."""

    def __init__(self, url: str, headers: dict):
        self.url, self.headers = url, headers
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.3):
            requests.post(f"{self.url}/v1/canaries:sweep", headers=self.headers, timeout=30)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def test_start_then_watch_until_promoted(cli, canary_stack, web, internal_headers):
    started = start(cli)
    assert started.code == 0, started
    canary = started.json
    assert canary["status"] == "progressing" and canary["stable_revision"] == "web-1"
    assert canary["created_by_actor"] == "octocat"
    assert shares(web) == {"web-1": 90, "web-2": 10}

    with Sweeper(canary_stack.url, internal_headers):
        watched = cli("canary", "watch", canary["id"], "--poll-interval", "0.3", "--json")
    assert watched.code == 0, watched
    assert watched.json["status"] == "promoted"
    assert "Healthy" in watched.err and "promoted" in watched.err
    assert shares(web) == {"web-2": 100}

    status = cli("canary", "status", canary["id"])
    assert status.code == 0 and "checks:" in status.out and "Healthy" in status.out
    listed = cli("canary", "list", "--json")
    assert canary["id"] in [c["id"] for c in listed.json]

    final = cli("canary", "abort", canary["id"])
    assert final.code == 5, final  # a promoted canary changes no more


def test_abort_sends_traffic_back_and_a_second_start_conflicts(cli, canary_stack, web):
    canary = start(cli, "--step-minutes", "30").json
    again = start(cli)
    assert again.code == 5, again  # one active canary per service

    aborted = cli("canary", "abort", canary["id"], "--json")
    assert aborted.code == 0, aborted
    assert aborted.json["status"] == "aborted"
    assert shares(web) == {"web-1": 100}


def test_unknown_canary_and_bad_steps(cli, canary_stack, web):
    assert cli("canary", "status", "no-such-canary").code == 4
    bad = start(cli, "--steps", "50,10")
    assert bad.code == 2, bad
