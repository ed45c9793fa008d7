"""`deployq approvals`: the inbox, approve and reject, against the deployments function."""

from __future__ import annotations

from tests.conftest import ADMIN_EMAIL, APPROVER_EMAIL, AUDIENCE


def as_(identity, email: str) -> list[str]:
    return ["--token", identity.google_token(email, AUDIENCE), "--org", "acme"]


def create(cli, component, environment, version):
    return cli(
        "deployments",
        "create",
        "--name",
        component,
        "--provider",
        "gcp",
        "--version",
        version,
        "--type",
        "k8s",
        "--environment",
        environment,
        "--json",
    ).json


def test_inbox_approve_and_reject_from_the_terminal(cli, cli_env, identity, component):
    environment = f"prod-{component}"
    policy = cli(
        "policies",
        "set",
        environment,
        "--requires-approval",
        "true",
        *as_(identity, ADMIN_EMAIL),
        "--json",
    )
    assert policy.code == 0, policy
    first = create(cli, component, environment, "1")
    second = create(cli, component, environment, "2")

    listed = cli("approvals", *as_(identity, APPROVER_EMAIL), "--json")
    assert listed.code == 0, listed
    mine = [i for i in listed.json if i["environment"] == environment]
    assert [i["id"] for i in mine] == [second["id"], first["id"]]
    assert all(i["kind"] == "deployment" and i["can_approve"] for i in mine)
    table = cli("approvals", *as_(identity, APPROVER_EMAIL))
    assert table.code == 0 and first["id"] in table.out and "KIND" in table.out

    approved = cli(
        "approvals", "approve", first["id"], "--comment", "ok", *as_(identity, APPROVER_EMAIL)
    )
    assert approved.code == 0, approved
    assert "approval approved" in approved.out
    rejected = cli(
        "approvals",
        "reject",
        second["id"],
        "--comment",
        "not today",
        *as_(identity, APPROVER_EMAIL),
        "--json",
    )
    assert rejected.code == 0, rejected
    assert rejected.json["approval_status"] == "rejected"
    again = cli("approvals", "approve", second["id"], *as_(identity, APPROVER_EMAIL))
    assert again.code == 5 and "not_pending" in again.err
    history = cli("approvals", "--status", "rejected", *as_(identity, APPROVER_EMAIL), "--json")
    assert second["id"] in [i["id"] for i in history.json]
    unknown = cli("approvals", "approve", "nope", *as_(identity, APPROVER_EMAIL))
    assert unknown.code != 0 and "not in the approval inbox" in unknown.err
