"""`deployq release`: the Action's create -> approval -> claim -> canary flow from a terminal,
against the same functions; only the deployments URL is given."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
import requests

from cli.commands.release import LiveDisplay
from tests.conftest import APPROVER_EMAIL
from tests.integration.action.conftest import PROJECT, REGION
from tests.support.cli import REQUEST_TOKEN

ARGS = [
    "release",
    "--name", "web",
    "--version", "2.0.0",
    "--provider", "gcp",
    "--type", "k8s",
    "--environment", "production",
    "--cloud-account-id", PROJECT,
    "--region", REGION,
    "--canary-revision", "web-2",
    "--steps", "10",
    "--step-minutes", "0.02",
    "--interval-seconds", "1",
    "--min-requests", "10",
    "--poll-interval", "0.3",
]  # fmt: skip


@pytest.fixture
def terminal(monkeypatch, stack, actions_server, capsys):
    """A shell with only DEPLOYQ_URL set, in a job that may request an OIDC token."""
    from cli.main import main

    for name in ("DEPLOYQ_CANARY_URL", "DEPLOYQ_PACKAGES_URL", "DEPLOYQ_TOKEN", "DEPLOYQ_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", actions_server.url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
    monkeypatch.setenv("DEPLOYQ_URL", stack.deployments.url)

    def run(*args: str):
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def approve_when_pending(url: str, headers: dict) -> threading.Thread:
    """An approver who approves the first pending deployment of the inbox."""

    def approve() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = requests.get(f"{url}/v1/deployments", headers=headers, timeout=10).json()
            pending = [d for d in listed if d.get("approval_status") == "pending"]
            if pending:
                requests.post(
                    f"{url}/v1/deployments/{pending[0]['id']}/approve",
                    json={"comment": "ship it"},
                    headers=headers,
                    timeout=10,
                )
                return
            time.sleep(0.2)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def test_release_waits_for_approval_claims_and_follows_the_canary_to_promotion(
    terminal, stack, web, sweeper, google_headers, require_approval, fake_apis
):
    require_approval("production")
    approver = approve_when_pending(stack.deployments.url, google_headers(APPROVER_EMAIL))
    code, out, err = terminal(*ARGS, "--approval-timeout", "1", "--json")
    approver.join(5)
    assert code == 0, err
    result = json.loads(out)
    assert result["canary"]["status"] == "promoted"
    assert result["deployment"]["status"] == "deployed"
    assert result["deployment"]["approval_status"] == "approved"
    assert "needs approval; waiting" in err and f"approved by {APPROVER_EMAIL}" in err
    assert "claimed" in err and "-> Healthy" in err and "✓ promoted" in err
    assert len(result["canary"]["checks"]) >= 1


def test_release_of_an_unhealthy_canary_exits_1_with_the_reason(
    terminal, stack, web, sweeper, fake_apis
):
    web.canary_profile["errors_pct"] = 10.0
    code, out, err = terminal(*ARGS)
    assert code == 1, err
    assert "✗ canary rolled_back:" in err and "error rate 10% > 1%" in err
    assert "checks:" in out and "Unhealthy" in out  # the canary's table on stdout


def test_the_live_display_redraws_its_status_line_on_a_terminal():
    stream = io.StringIO()
    display = LiveDisplay(stream, live=True)
    canary = {"canary_revision": "web-2", "status": "progressing", "steps": [10, 50],
              "strategy": "canary", "step": 1, "traffic_percent": 10, "check_count": 2}  # fmt: skip
    display.tick(canary, 65)
    display.line("check 3 ...")
    display.done()
    text = stream.getvalue()
    assert "step 1/2, 10% traffic, 2 checks, 01:05" in text
    assert "\r\033[K" in text and "check 3 ...\n" in text
    quiet = io.StringIO()
    LiveDisplay(quiet, live=False).tick(canary, 1)
    assert quiet.getvalue() == ""
