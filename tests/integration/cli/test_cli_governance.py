"""`deployq policies|deployments approve/reject|dora|runbooks` against the deployments function.
Each test is skipped while the function does not serve its routes yet (they land separately)."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import ADMIN_EMAIL, APPROVER_EMAIL, AUDIENCE


@pytest.fixture
def served(deployments_url):
    paths = requests.get(f"{deployments_url}/openapi.json", timeout=10).json()["paths"]

    def need(path: str) -> None:
        if path not in paths:
            pytest.skip(f"the deployments function does not serve {path} yet")

    return need


def as_(identity, email: str) -> list[str]:
    return ["--token", identity.google_token(email, AUDIENCE), "--org", "acme"]


def test_an_approval_gate_from_the_terminal(cli, cli_env, served, identity, component):
    served("/v1/policies/{environment}")
    served("/v1/deployments/{deployment_id}/approve")
    environment = f"prod-{component}"
    policy = cli(
        "policies",
        "set",
        environment,
        "--requires-approval",
        "true",
        "--min-approvals",
        "1",
        *as_(identity, ADMIN_EMAIL),
        "--json",
    )
    assert policy.code == 0, policy
    assert policy.json["requires_approval"] is True

    created = cli(
        "deployments",
        "create",
        "--name",
        component,
        "--provider",
        "gcp",
        "--version",
        "1",
        "--type",
        "k8s",
        "--environment",
        environment,
        "--json",
    )
    record = created.json
    assert record["approval_status"] == "pending"
    blocked = cli("deployments", "update", record["id"], "--status", "deployed")
    assert blocked.code == 5 and "approval_required" in blocked.err

    approved = cli(
        "deployments",
        "approve",
        record["id"],
        "--comment",
        "ok",
        *as_(identity, APPROVER_EMAIL),
        "--json",
    )
    assert approved.code == 0, approved
    assert approved.json["approval_status"] == "approved"
    assert cli("deployments", "update", record["id"], "--status", "deployed").code == 0

    other = cli(
        "deployments",
        "create",
        "--name",
        component,
        "--provider",
        "gcp",
        "--version",
        "2",
        "--type",
        "k8s",
        "--environment",
        environment,
        "--json",
    ).json
    rejected = cli(
        "deployments",
        "reject",
        other["id"],
        "--comment",
        "not today",
        *as_(identity, APPROVER_EMAIL),
        "--json",
    )
    assert rejected.code == 0, rejected
    assert rejected.json["status"] == "skipped"
    assert (
        cli(
            "deployments",
            "reject",
            other["id"],
            "--comment",
            "again",
            *as_(identity, APPROVER_EMAIL),
        ).code
        == 5
    )


def test_dora_metrics_table_and_json(cli, cli_env, served, component):
    served("/v1/metrics/dora")
    created = cli(
        "deployments",
        "create",
        "--name",
        component,
        "--provider",
        "gcp",
        "--version",
        "1",
        "--type",
        "k8s",
        "--json",
    ).json
    assert cli("deployments", "update", created["id"], "--status", "deployed").code == 0
    # The figures are aggregated by the events function (not running here): check the shape.
    result = cli("dora", "--name", component, "--days", "7", "--json")
    assert result.code == 0, result
    assert result.json["days"] == 7 and result.json["name"] == component
    assert set(result.json) >= {
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    }
    table = cli("dora", "--name", component)
    assert "deployment frequency" in table.out and "change failure rate" in table.out
    assert cli("dora", "--days", "0").code == 2


def test_runbooks_round_trip(cli, cli_env, served, component):
    served("/v1/runbooks")
    created = cli(
        "runbooks",
        "create",
        "--title",
        f"Restart {component}",
        "--content",
        "Run `kubectl rollout restart`.",
        "--service",
        component,
        "--tags",
        "k8s",
        "--json",
    )
    assert created.code == 0, created
    runbook = created.json
    found = cli("runbooks", "list", "--q", "rollout restart", "--service", component, "--json")
    assert [r["id"] for r in found.json] == [runbook["id"]]
    shown = cli("runbooks", "show", runbook["id"])
    assert "kubectl rollout restart" in shown.out
    assert cli("runbooks", "delete", runbook["id"]).code == 0
    assert cli("runbooks", "show", runbook["id"]).code == 4


def test_audit_log_list_and_csv_export(cli, cli_env, served, identity, tmp_path):
    served("/v1/audit-logs")
    served("/v1/audit-logs/export.csv")
    # Entries are written by the events function (not running here): the routes and formats.
    listed = cli("audit", "list", "--resource-type", "deployment", "--json")
    assert listed.code == 0, listed
    assert isinstance(listed.json, list)
    target = tmp_path / "audit.csv"
    exported = cli("audit", "export", "--from", "2026-01-01T00:00:00Z", "-o", str(target))
    assert exported.code == 0, exported
    assert "actor" in target.read_text().splitlines()[0]
    bad = cli("audit", "list", "--from", "last tuesday")
    assert bad.code == 2, bad
