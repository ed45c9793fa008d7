"""The deployments function as real functions-framework processes, called over HTTP."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.emulators import free_port, start_function

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = {
    "name": "api",
    "provider": "gcp",
    "cloud_account_id": "p",
    "region": "eu",
    "type": "k8s",
}


@pytest.fixture
def servers(base_env, log_dir):
    """Two instances of the function, as Cloud Functions scales out."""
    processes = [start_function("deployments", free_port(), base_env, log_dir) for _ in range(2)]
    yield [f"http://127.0.0.1:{p.port}" for p in processes]
    for process in processes:
        process.stop()


def test_queue_over_http(servers, gh):
    url = servers[0]
    assert requests.get(f"{url}/health", timeout=5).json() == {"status": "healthy"}
    created = requests.post(
        f"{url}/v1/deployments", json={**TAXONOMY, "version": "1"}, headers=gh, timeout=10
    )
    assert created.status_code == 201
    record = created.json()
    response = requests.patch(
        f"{servers[1]}/v1/deployments/{record['id']}",
        json={"status": "deployed"},
        headers=gh,
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["status"] == "deployed"
    listed = requests.get(f"{url}/v1/deployments?status=deployed", headers=gh, timeout=10).json()
    assert [d["id"] for d in listed] == [record["id"]]
    bad = requests.post(
        f"{url}/v1/deployments",
        data="{",
        headers={**gh, "Content-Type": "application/json"},
        timeout=10,
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_json"


def test_thirty_concurrent_patches_to_deployed_lose_nothing(servers, gh):
    ids = []
    for i in range(30):
        response = requests.post(
            f"{servers[0]}/v1/deployments",
            json={**TAXONOMY, "version": f"v{i:02d}"},
            headers=gh,
            timeout=10,
        )
        ids.append(response.json()["id"])

    def deploy(index):
        url = servers[index % 2]
        while True:
            response = requests.patch(
                f"{url}/v1/deployments/{ids[index]}",
                json={"status": "deployed"},
                headers=gh,
                timeout=60,
            )
            if response.json().get("code") != "concurrent_update":
                return response

    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(deploy, range(30)))
    assert {r.status_code for r in responses} <= {200, 409}
    refused = [r.json() for r in responses if r.status_code == 409]
    assert all(r["code"] == "invalid_transition" and "skipped" in r["error"] for r in refused)
    records = {
        d["id"]: d
        for d in requests.get(
            f"{servers[0]}/v1/deployments?limit=100", headers=gh, timeout=10
        ).json()
    }
    assert len(records) == 30
    for deployment_id, response in zip(ids, responses, strict=True):
        record = records[deployment_id]
        assert record["status"] in ("deployed", "skipped")
        # a 200 means deployed, and the record says so: no update was lost
        assert (response.status_code == 200) == (record["status"] == "deployed")
    deployed_at = {i: r["created_at"] for i, r in records.items() if r["status"] == "deployed"}
    assert records[ids[-1]]["status"] == "deployed"  # the newest can never be skipped
    for record in records.values():
        if record["status"] == "skipped":
            winner = record["notes"].split("deployment ")[1].split(" ")[0]
            assert winner in deployed_at and deployed_at[winner] > record["created_at"]


def test_concurrent_patches_of_one_record_keep_every_change(servers, gh):
    """Notes from one process, status from the other, at once: neither overwrites the other."""
    for round_ in range(8):
        record = requests.post(
            f"{servers[0]}/v1/deployments",
            json={**TAXONOMY, "version": f"r{round_}"},
            headers=gh,
            timeout=10,
        ).json()
        url = f"/v1/deployments/{record['id']}"
        calls = [
            (f"{servers[0]}{url}", {"notes": f"note {round_}"}),
            (f"{servers[1]}{url}", {"status": "in_progress"}),
            (f"{servers[0]}{url}", {"deployment_uri": f"https://ci/{round_}"}),
        ]
        with ThreadPoolExecutor(3) as pool:
            answers = list(
                pool.map(
                    lambda call: requests.patch(call[0], json=call[1], headers=gh, timeout=60),
                    calls,
                )
            )
        assert [a.status_code for a in answers] == [200, 200, 200]
        final = requests.get(f"{servers[1]}{url}", headers=gh, timeout=10).json()
        assert final["notes"] == f"note {round_}" and final["status"] == "in_progress"
        assert final["deployment_uri"] == f"https://ci/{round_}"


def test_ten_concurrent_creates_with_one_idempotency_key(servers, gh):
    headers = {**gh, "Idempotency-Key": "workflow-run-7"}
    body = {**TAXONOMY, "version": "7"}

    def create(index):
        while True:
            response = requests.post(
                f"{servers[index % 2]}/v1/deployments", json=body, headers=headers, timeout=60
            )
            if response.json().get("code") != "concurrent_update":
                return response

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(create, range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = requests.get(f"{servers[0]}/v1/deployments", headers=gh, timeout=10).json()
    assert len(listed) == 1


def test_bad_configuration_stops_start_up_with_one_line(base_env):
    env = {**os.environ, **base_env, "ORG_ACCESS": "{broken", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "functions_framework",
            "--source=functions/deployments/main.py",
            "--target=deployments",
            f"--port={free_port()}",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "configuration error: ORG_ACCESS" in result.stderr
