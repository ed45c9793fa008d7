"""`action.yml` run as a GitHub runner runs it, against the real deployments and canary
functions (Firestore emulator, Cloud Run / Monitoring fake), GitHub's OIDC token endpoint
and a fake of GitHub's REST API."""

from __future__ import annotations

import threading

import requests

from tests.conftest import APPROVER_EMAIL
from tests.integration.action.conftest import PROJECT, REGION
from tests.support.actions import SHA

RELEASE = {
    "name": "web",
    "version": "2.0.0",
    "provider": "gcp",
    "type": "k8s",
    "environment": "production",
    "cloud_account_id": PROJECT,
    "region": REGION,
}
CANARY = {
    "command": "canary",
    "canary_revision": "web-2",
    "steps": "10",
    "step_minutes": "0.02",
    "interval_seconds": "1",
    "min_requests": "10",
    "poll_seconds": "0.3",
    "timeout_minutes": "2",
}


def deployment(stack, gh, deployment_id: str) -> dict:
    answer = requests.get(
        f"{stack.deployments.url}/v1/deployments/{deployment_id}", headers=gh, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def canary(stack, gh, canary_id: str) -> dict:
    return requests.get(
        f"{stack.canary.url}/v1/canaries/{canary_id}", headers=gh, timeout=10
    ).json()


def shares(fake) -> dict[str, int]:
    found: dict[str, int] = {}
    for entry in fake.run.service(PROJECT, REGION, "web")["traffic"]:
        found[entry["revision"]] = found.get(entry["revision"], 0) + entry["percent"]
    return {revision: percent for revision, percent in found.items() if percent}


def in_background(run, **inputs):
    """Run the action in a thread (a step that waits); join() returns its result."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", run(**inputs)))
    thread.start()

    def join():
        thread.join(120)
        return box["result"]

    return join


def test_create_approval_claim_and_a_healthy_canary_promote_and_tell_github(
    runner, stack, web, sweeper, github_api, gh, google_headers, require_approval, fake_apis
):
    require_approval("production")
    api = stack.deployments.url
    created = runner.run(api_url=api, **RELEASE)
    assert created.ok, created
    deployment_id = created.outputs["deployment-id"]
    assert created.outputs["status"] == "scheduled"
    assert "needs approval" in created.stdout

    waiting = in_background(
        runner.run,
        api_url=api,
        command="wait-for-approval",
        deployment_id=deployment_id,
        poll_seconds="0.2",
    )
    approved = requests.post(
        f"{api}/v1/deployments/{deployment_id}/approve",
        json={"comment": "go"},
        headers=google_headers(APPROVER_EMAIL),
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    waited = waiting()
    assert waited.ok, waited
    assert waited.outputs["reason"] == "approved"

    claimed = runner.run(api_url=api, command="claim", deployment_id=deployment_id)
    assert claimed.ok, claimed
    assert claimed.outputs["deployment-id"] == deployment_id
    assert claimed.outputs["status"] == "in_progress"
    again = runner.run(api_url=api, command="claim", deployment_id=deployment_id)
    assert again.ok and again.outputs["deployment-id"] == deployment_id, again  # a retried step

    result = runner.run(
        api_url=api,  # only the deployments URL: the canary API comes from discovery
        deployment_id=deployment_id,
        github_token=github_api.token,
        **CANARY,
    )
    assert result.ok, result
    assert f"canary API at {stack.canary.url} (from {api}/v1/discovery)" in result.stdout
    outputs = result.outputs
    assert outputs["status"] == "promoted" and outputs["canary-id"]
    assert outputs["deployment-id"] == deployment_id and outputs["reason"]

    record = canary(stack, gh, outputs["canary-id"])
    checks = record["checks"]
    assert checks and record["status"] == "promoted"
    for check in checks:
        assert f"check {check['number']} at {check['traffic_percent']}% traffic: canary " in (
            result.stdout
        )
        assert f"| {check['number']} | {check['at']} |" in result.summary
    assert "-> Healthy" in result.stdout
    assert "xychart-beta" in result.summary and "promoted" in result.summary
    assert result.summary.count("```mermaid") == 3
    numbers = ", ".join(f'"{c["number"]}"' for c in checks)
    assert f'x-axis "check" [{numbers}]' in result.summary

    assert deployment(stack, gh, deployment_id)["status"] == "deployed"
    assert shares(fake_apis) == {"web-2": 100}

    assert [s["state"] for s in github_api.statuses] == ["pending", "success"]
    assert {s["sha"] for s in github_api.statuses} == {SHA}
    assert github_api.statuses[-1]["context"] == "deployq/production"
    assert github_api.statuses[-1]["target_url"].endswith("/acme/app/actions/runs/4242")
    [github_deployment] = github_api.deployments
    assert github_deployment["environment"] == "production" and github_deployment["ref"] == SHA
    assert github_deployment["payload"]["deployq_canary_id"] == outputs["canary-id"]
    states = [s["state"] for s in github_api.deployment_statuses]
    assert states == ["in_progress", "success"]


def test_an_error_spike_rolls_back_fails_the_step_and_the_queue_rolls_back(
    runner, stack, web, sweeper, github_api, gh, fake_apis
):
    api = stack.deployments.url
    first = runner.run(api_url=api, **{**RELEASE, "version": "1.0.0"})
    live = runner.run(api_url=api, deployment_id=first.outputs["deployment-id"], status="deployed")
    assert live.ok and live.outputs["status"] == "deployed", live

    created = runner.run(api_url=api, **RELEASE)
    deployment_id = created.outputs["deployment-id"]
    claimed = runner.run(  # by taxonomy, as a pipeline that did not create it would
        api_url=api,
        command="claim",
        name="web",
        provider="gcp",
        cloud_account_id=PROJECT,
        region=REGION,
    )
    assert claimed.ok and claimed.outputs["deployment-id"] == deployment_id, claimed

    web.canary_profile["errors_pct"] = 10.0
    result = runner.run(
        api_url=api, deployment_id=deployment_id, github_token=github_api.token, **CANARY
    )
    assert result.code == 1, result
    [error] = result.errors()
    assert error.startswith("canary rolled_back: ") and "error rate 10% > 1%" in error
    assert "\n" not in error
    assert result.outputs["status"] == "rolled_back"
    assert "error rate 10% > 1%" in result.outputs["reason"]
    assert "-> Unhealthy" in result.stdout
    assert "rolled_back" in result.summary and "xychart-beta" in result.summary

    failed = deployment(stack, gh, deployment_id)
    assert failed["status"] == "failed" and "error rate 10% > 1%" in failed["notes"]
    assert shares(fake_apis) == {"web-1": 100}
    assert [s["state"] for s in github_api.statuses] == ["pending", "failure"]
    assert "error rate 10% > 1%" in github_api.statuses[-1]["description"]
    assert [s["state"] for s in github_api.deployment_statuses] == ["in_progress", "failure"]

    rolled = runner.run(
        api_url=api, command="rollback", deployment_id=deployment_id, status="deployed"
    )
    assert rolled.ok, rolled
    assert rolled.outputs["version"] == "1.0.0" and rolled.outputs["status"] == "deployed"
    back = deployment(stack, gh, rolled.outputs["deployment-id"])
    assert back["trigger"] == "rollback" and back["rollback_from_deployment_id"] == deployment_id


def test_a_rejected_approval_stops_the_flow(
    runner, stack, github_api, gh, google_headers, require_approval
):
    require_approval("production")
    api = stack.deployments.url
    created = runner.run(api_url=api, **RELEASE)
    deployment_id = created.outputs["deployment-id"]
    waiting = in_background(
        runner.run,
        api_url=api,
        command="wait-for-approval",
        deployment_id=deployment_id,
        poll_seconds="0.2",
        github_token=github_api.token,
    )
    rejected = requests.post(
        f"{api}/v1/deployments/{deployment_id}/reject",
        json={"comment": "not during the sale"},
        headers=google_headers(APPROVER_EMAIL),
        timeout=10,
    )
    assert rejected.status_code == 200, rejected.text
    result = waiting()
    assert result.code == 1, result
    assert result.errors() == [f"rejected by {APPROVER_EMAIL}: not during the sale"]
    assert result.outputs["status"] == "rejected"
    assert [s["state"] for s in github_api.statuses] == ["failure"]

    claim = runner.run(api_url=api, command="claim", deployment_id=deployment_id)
    assert claim.code == 1, claim  # the rejected deployment was skipped: nothing to claim
    assert deployment(stack, gh, deployment_id)["status"] == "skipped"


def test_skip_canary_sends_all_traffic_at_once_and_still_checks(
    runner, stack, web, sweeper, gh, fake_apis
):
    api = stack.deployments.url
    created = runner.run(api_url=api, **RELEASE)
    deployment_id = created.outputs["deployment-id"]
    result = runner.run(api_url=api, deployment_id=deployment_id, skip_canary="true", **CANARY)
    assert result.ok, result
    record = canary(stack, gh, result.outputs["canary-id"])
    assert record["strategy"] == "all_at_once" and record["status"] == "promoted"
    assert {c["traffic_percent"] for c in record["checks"]} == {100}
    assert shares(fake_apis) == {"web-2": 100}
    # a scheduled deployment goes in_progress with the rollout, deployed with the promotion
    assert deployment(stack, gh, deployment_id)["status"] == "deployed"


def test_the_original_create_and_update_usage_is_unchanged(runner, stack, gh):
    api = stack.deployments.url
    inputs = {"name": "api", "version": "1.2.3", "provider": "gcp", "type": "k8s"}
    created = runner.run(api_url=api, **inputs)
    assert created.ok, created
    deployment_id = created.outputs["deployment-id"]
    assert created.outputs["status"] == "scheduled"
    record = deployment(stack, gh, deployment_id)
    assert record["commit_sha"] == SHA
    assert record["build_uri"] == "https://github.com/acme/app/actions/runs/4242"
    assert record["region"] is None and record["environment"] is None  # empty = not sent
    again = runner.run(api_url=api, **inputs)  # a retried step of the same run
    assert again.outputs["deployment-id"] == deployment_id

    updated = runner.run(
        api_url=api, deployment_id=deployment_id, status="in_progress", notes="rolling"
    )
    assert updated.ok and updated.outputs["status"] == "in_progress", updated
    assert deployment(stack, gh, deployment_id)["notes"] == "rolling"

    no_status = runner.run(api_url=api, deployment_id=deployment_id)
    assert no_status.code == 1 and no_status.errors() == ["status is required with deployment-id"]
    missing = runner.run(api_url=api, name="api")
    assert missing.code == 1 and missing.errors() == ["version is required to create a deployment"]
    illegal = runner.run(api_url=api, deployment_id=deployment_id, status="skipped")
    assert illegal.code == 1, illegal
    [error] = illegal.errors()
    assert error.startswith("deployq answered HTTP 409")

    runner.env = {k: v for k, v in runner.env.items() if not k.startswith("ACTIONS_ID_TOKEN")}
    no_oidc = runner.run(api_url=api, **inputs)
    assert no_oidc.errors() == [
        "no OIDC token available: give the job 'permissions: id-token: write'"
    ]


def test_without_discovery_the_canary_url_input_works_and_a_timeout_leaves_rollback_to_abort(
    runner, stack, web, sweeper, gh, fake_apis, monkeypatch
):
    from tests.support.packages import AppServer

    monkeypatch.delenv("CANARY_URL")
    bare = AppServer("deployments")  # its discovery names no canary API
    try:
        created = runner.run(api_url=bare.url, **RELEASE)
        deployment_id = created.outputs["deployment-id"]
        unnamed = runner.run(api_url=bare.url, deployment_id=deployment_id, **CANARY)
        assert unnamed.code == 1
        [error] = unnamed.errors()
        assert "no canary API URL" in error and "canary-url" in error

        slow = {**CANARY, "step_minutes": "30", "timeout_minutes": "0.05"}
        result = runner.run(
            api_url=bare.url, canary_url=stack.canary.url, deployment_id=deployment_id, **slow
        )
        assert result.code == 1, result
        [error] = result.errors()
        assert "is still progressing after" in error
        assert result.outputs["status"] == "progressing" and result.outputs["canary-id"]
        assert shares(fake_apis) == {"web-1": 90, "web-2": 10}

        rolled = runner.run(
            api_url=bare.url,
            canary_url=stack.canary.url,
            command="rollback",
            deployment_id=deployment_id,
            canary_id=result.outputs["canary-id"],
        )
        assert rolled.ok, rolled
        assert canary(stack, gh, result.outputs["canary-id"])["status"] == "aborted"
        assert shares(fake_apis) == {"web-1": 100}
        assert deployment(stack, gh, deployment_id)["status"] == "failed"
        assert rolled.outputs["reason"] == "no earlier deployed version"
    finally:
        bare.close()


def test_claim_refuses_a_deployment_a_newer_push_superseded(runner, stack, gh):
    api = stack.deployments.url
    older = runner.run(api_url=api, **{**RELEASE, "version": "1.0.0"}).outputs["deployment-id"]
    newer = runner.run(api_url=api, **RELEASE).outputs["deployment-id"]
    result = runner.run(api_url=api, command="claim", deployment_id=older)
    assert result.code == 1 and result.outputs["status"] == "superseded", result
    [error] = result.errors()
    assert f"superseded by {newer} (version 2.0.0)" in error
    assert deployment(stack, gh, newer)["status"] == "scheduled"  # left for its own run
    claimed = runner.run(api_url=api, command="claim", deployment_id=newer)
    assert claimed.ok and claimed.outputs["deployment-id"] == newer
    assert deployment(stack, gh, older)["status"] == "skipped"
