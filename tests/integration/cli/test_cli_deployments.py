"""`deployq deployments ...` against the real deployments function (a process on the emulator),
authenticated the way a GitHub Actions job is: with the workflow's OIDC token."""

from __future__ import annotations

import os
import stat

from tests.conftest import AUDIENCE, DEPLOYER_EMAIL, VIEWER_EMAIL
from tests.support.cli import REQUEST_TOKEN


def taxonomy(name: str, **extra: str) -> list[str]:
    args = [
        "--name",
        name,
        "--provider",
        "gcp",
        "--cloud-account-id",
        "proj-1",
        "--region",
        "europe-west1",
    ]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args


def create(cli, name: str, version: str, *extra: str) -> dict:
    result = cli(
        "deployments",
        "create",
        *taxonomy(name),
        "--version",
        version,
        "--type",
        "k8s",
        "--json",
        *extra,
    )
    assert result.code == 0, result
    return result.json


def test_create_with_the_actions_oidc_token(cli, cli_env, actions_server, component):
    result = cli(
        "--json",
        "deployments",
        "create",
        *taxonomy(component),
        "--version",
        "1.0.0",
        "--type",
        "k8s",
        "--environment",
        "production",
        "--commit-sha",
        "abc123",
        "--commit-timestamp",
        "2026-01-02T03:04:05Z",
        "--extra-params",
        '{"a": 1}',
    )
    assert result.code == 0, result
    record = result.json
    assert record["status"] == "scheduled" and record["trigger"] == "auto"
    assert record["organisation"] == "acme" and record["created_by_actor"] == "octocat"
    assert record["created_by_repo"] == "acme/app"
    assert record["pipeline_extra_params"] == '{"a": 1}'
    assert record["commit_timestamp"] == "2026-01-02T03:04:05.000000Z"
    asked = actions_server.requests[-1]
    assert asked["authorization"] == f"bearer {REQUEST_TOKEN}"
    assert "api-version=2.0&audience=deployment-queue-api" in asked["path"]

    shown = cli("deployments", "show", record["id"])
    assert shown.code == 0, shown
    assert "id " in shown.out and record["id"] in shown.out
    assert "scheduled" in shown.out and "octocat" in shown.out


def test_manual_create_and_list_table_and_json(cli, cli_env, component):
    first = create(cli, component, "1.0.0")
    second = create(cli, component, "1.1.0", "--manual", "--environment", "staging")
    assert second["auto"] is False and second["trigger"] == "manual"

    table = cli("deployments", "list", "--name", component)
    assert table.code == 0, table
    lines = table.out.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "VERSION", "ENV"]
    assert [line.split()[0] for line in lines[1:]] == [second["id"], first["id"]]  # newest first

    listed = cli("deployments", "list", "--name", component, "--environment", "staging", "--json")
    assert [d["id"] for d in listed.json] == [second["id"]]

    paged = cli("deployments", "list", "--name", component, "--limit", "1", "--json")
    assert len(paged.json) == 1 and "--page-token" in paged.err
    everything = cli("deployments", "list", "--name", component, "--limit", "1", "--all", "--json")
    assert [d["id"] for d in everything.json] == [second["id"], first["id"]]


def test_deployed_skips_older_scheduled_and_the_cli_shows_it(cli, cli_env, component):
    old_one = create(cli, component, "1.0.0")
    old_two = create(cli, component, "1.1.0")
    newest = create(cli, component, "1.2.0")

    done = cli("deployments", "update", newest["id"], "--status", "deployed", "--json")
    assert done.code == 0, done
    assert done.json["status"] == "deployed"

    skipped = cli("deployments", "list", "--name", component, "--status", "skipped", "--json")
    assert {d["id"] for d in skipped.json} == {old_one["id"], old_two["id"]}
    assert all(newest["id"] in (d["notes"] or "") for d in skipped.json)

    again = cli("deployments", "update", newest["id"], "--status", "deployed", "--json")
    assert again.code == 0  # the same status again is a harmless no-op

    illegal = cli("deployments", "update", old_one["id"], "--status", "in_progress")
    assert illegal.code == 5, illegal  # conflict: skipped is final
    assert "cannot move a skipped deployment" in illegal.err and "HTTP 409" in illegal.err


def test_rollback_by_taxonomy_and_by_id(cli, cli_env, component):
    v1 = create(cli, component, "1.0.0")
    assert cli("deployments", "update", v1["id"], "--status", "deployed").code == 0
    v2 = create(cli, component, "2.0.0")
    assert cli("deployments", "update", v2["id"], "--status", "deployed").code == 0

    rollback = cli("deployments", "rollback", *taxonomy(component), "--json")
    assert rollback.code == 0, rollback
    record = rollback.json
    assert record["trigger"] == "rollback" and record["version"] == "1.0.0"
    assert record["source_deployment_id"] == v1["id"]
    assert record["rollback_from_deployment_id"] == v2["id"]
    assert record["status"] == "scheduled"

    broken = create(cli, component, "3.0.0")
    by_id = cli("deployments", "rollback", broken["id"], "--json")
    assert by_id.code == 0, by_id
    assert by_id.json["rollback_from_deployment_id"] == broken["id"]
    assert by_id.json["version"] == "2.0.0"  # the newest deployed record

    nothing = cli("deployments", "rollback", *taxonomy(f"{component}-none"))
    assert nothing.code == 4, nothing
    assert "HTTP 404" in nothing.err

    incomplete = cli("deployments", "rollback", "--name", component, "--provider", "gcp")
    assert incomplete.code == 2
    assert "--cloud-account-id" in incomplete.err and "--region" in incomplete.err


def test_claim_takes_the_newest_and_refuses_a_second_runner(cli, cli_env, component):
    older = create(cli, component, "1.0.0")
    newer = create(cli, component, "1.1.0")

    claimed = cli("deployments", "claim", *taxonomy(component), "--json")
    assert claimed.code == 0, claimed
    assert claimed.json["id"] == newer["id"] and claimed.json["status"] == "in_progress"
    shown = cli("deployments", "show", older["id"], "--json")
    assert shown.json["status"] == "skipped"

    create(cli, component, "1.2.0")
    second = cli("deployments", "claim", *taxonomy(component))
    assert second.code == 5, second  # one already in progress

    empty = cli("deployments", "claim", *taxonomy(f"{component}-idle"))
    assert empty.code == 4, empty


def test_exit_codes_scripts_rely_on(cli, cli_env, identity, component):
    assert cli("deployments", "show", "00000000-0000-0000-0000-000000000000").code == 4
    assert cli("deployments", "create", "--name", component).code == 2  # argparse usage
    assert cli("deployments", "update", "00000000-0000-0000-0000-000000000000").code == 2

    invalid = cli(
        "deployments",
        "create",
        *taxonomy(component),
        "--version",
        "1",
        "--type",
        "k8s",
        "--commit-timestamp",
        "yesterday",
    )
    assert invalid.code == 2, invalid
    assert "commit_timestamp" in invalid.err

    viewer = identity.google_token(VIEWER_EMAIL, AUDIENCE)
    denied = cli(
        "deployments",
        "create",
        *taxonomy(component),
        "--version",
        "1",
        "--type",
        "k8s",
        "--token",
        viewer,
        "--org",
        "acme",
    )
    assert denied.code == 3, denied
    assert "deployer" in denied.err

    cli_env.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
    refused = cli("deployments", "list")
    assert refused.code == 3 and "id-token: write" in refused.err

    cli_env.delenv("DEPLOYQ_URL")
    assert cli("deployments", "list").code == 2


def test_errors_in_json_mode_are_the_api_error_body(cli, cli_env):
    result = cli("--json", "deployments", "show", "not-a-uuid")
    assert result.code == 4
    assert result.out == ""
    import json

    body = json.loads(result.err)
    assert set(body) == {"error", "code", "details"} and body["code"] == "not_found"


def test_a_personal_access_token_with_an_organisation(cli, cli_env, identity, component):
    cli_env.delenv("ACTIONS_ID_TOKEN_REQUEST_URL")
    cli_env.setenv("GITHUB_TOKEN", "ghp_cli_test_token")
    identity.add_pat("ghp_cli_test_token", "hubot", {"acme": "active"})

    missing_org = cli("deployments", "list")
    assert missing_org.code == 2 and "--org" in missing_org.err

    cli_env.setenv("DEPLOYQ_ORG", "acme")
    record = create(cli, component, "1.0.0")
    assert record["created_by_actor"] == "hubot"


def test_a_google_identity_from_gcloud(cli, cli_env, identity, component, tmp_path):
    """Outside GitHub, without GITHUB_TOKEN: `gcloud auth print-identity-token` supplies it."""
    token = identity.google_token(DEPLOYER_EMAIL, AUDIENCE)
    gcloud = tmp_path / "gcloud"
    gcloud.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho {token}\n')
    gcloud.chmod(gcloud.stat().st_mode | stat.S_IEXEC)
    cli_env.delenv("ACTIONS_ID_TOKEN_REQUEST_URL")
    cli_env.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    record = create(cli, component, "1.0.0", "--org", "acme")
    assert record["created_by_actor"] == DEPLOYER_EMAIL
    assert (tmp_path / "args").read_text().split() == ["auth", "print-identity-token", "--quiet"]


def test_the_command_as_a_process_keeps_stdout_for_data(cli_env, component):
    """What a workflow step sees: JSON on stdout, the error on stderr, the exit code."""
    import json
    import subprocess
    import sys

    run = [sys.executable, "-m", "cli"]
    created = subprocess.run(
        [
            *run,
            "deployments",
            "create",
            *taxonomy(component),
            "--version",
            "9",
            "--type",
            "terraform",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["type"] == "terraform"

    missing = subprocess.run(
        [*run, "deployments", "show", "0" * 8],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert missing.returncode == 4
    assert missing.stdout == "" and missing.stderr.startswith("deployq: error: ")
