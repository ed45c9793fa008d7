"""`deployq me`, `deployq org ...` and `deployq orgs ...` against the deployments function."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import ADMIN_EMAIL, AUDIENCE, INTERNAL_EMAIL
from tests.support.emulators import free_port, start_function

PLATFORM_EMAIL = "root@example.com"


@pytest.fixture(scope="module")
def deployments_url(firestore_emulator, identity, log_dir):
    """The deployments function with a platform admin, one process for this module."""
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "GOOGLE_CLOUD_PROJECT": f"cli-{uuid.uuid4().hex[:10]}",
        "AUTH_ENABLED": "true",
        "ORG_ACCESS": json.dumps({"acme": {ADMIN_EMAIL: "admin"}}),
        "PLATFORM_ADMINS": PLATFORM_EMAIL,
        "INTERNAL_SERVICE_ACCOUNTS": INTERNAL_EMAIL,
        **identity.env(AUDIENCE),
    }
    port = free_port()
    process = start_function("deployments", port, env, log_dir)
    yield f"http://127.0.0.1:{port}"
    process.stop()


def platform(identity) -> list[str]:
    return ["--token", identity.google_token(PLATFORM_EMAIL, AUDIENCE)]


def admin(identity) -> list[str]:
    return ["--token", identity.google_token(ADMIN_EMAIL, AUDIENCE), "--org", "acme"]


RECORD = {
    "environments": {"dev": {"project": "acme-data", "database": "dev"}},
    "cloud_run_services": ["projects/acme-run/locations/europe-west1/services/web*"],
    "members": [{"email": ADMIN_EMAIL, "role": "admin"}],
}


def test_platform_admin_manages_records(cli, cli_env, identity, tmp_path):
    org = f"org-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "record.json"
    path.write_text(json.dumps(RECORD))
    created = cli("orgs", "set", org, "--file", str(path), *platform(identity), "--json")
    assert created.code == 0, created
    assert created.json["environments"] == RECORD["environments"]
    shown = cli("orgs", "show", org, *platform(identity))
    assert shown.code == 0 and "acme-data" in shown.out and "web*" in shown.out
    listed = cli("orgs", "list", "--all", *platform(identity), "--json")
    assert org in [r["name"] for r in listed.json]
    table = cli("orgs", "list", "--all", *platform(identity))
    assert org in table.out and "SERVICES" in table.out
    assert cli("orgs", "delete", org, *platform(identity)).code == 0
    assert cli("orgs", "show", org, *platform(identity), "--json").json["environments"] == {}


def test_yaml_files_need_pyyaml_or_are_read(cli, cli_env, identity, tmp_path):
    path = tmp_path / "record.yaml"
    path.write_text("environments: {}\n")
    result = cli("orgs", "set", "acme", "--file", str(path), *platform(identity), "--json")
    try:
        import yaml  # noqa: F401
    except ImportError:
        assert result.code != 0 and "PyYAML" in result.err
    else:
        assert result.code == 0, result


def test_others_are_refused(cli, cli_env, identity):
    refused = cli("orgs", "list", *admin(identity))
    assert refused.code != 0 and "platform admin" in refused.err


def test_me_and_own_record(cli, cli_env, identity, tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps(RECORD))
    assert cli("orgs", "set", "acme", "--file", str(path), *platform(identity)).code == 0
    me = cli("me", *admin(identity), "--json")
    assert me.json["role"] == "admin" and me.json["person"]["email"] == ADMIN_EMAIL
    assert "admin" in cli("me", *admin(identity)).out
    shown = cli("org", "show", *admin(identity))
    assert shown.code == 0 and "acme-data" in shown.out
    members = tmp_path / "members.json"
    members.write_text(
        json.dumps(
            [{"email": ADMIN_EMAIL, "role": "admin"}, {"github_login": "octocat", "role": "viewer"}]
        )
    )
    changed = cli("org", "members", "--file", str(members), *admin(identity), "--json")
    assert changed.code == 0, changed
    assert [m.get("github_login") for m in changed.json] == [None, "octocat"]
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps([{"repository": "acme/*", "ref": "refs/heads/main", "role": "deployer"}])
    )
    assert cli("org", "rules", "--file", str(rules), *admin(identity)).code == 0
    listed = cli("org", "rules", *admin(identity))
    assert "acme/*" in listed.out
    # The GitHub Actions workflow of acme is now judged by that rule.
    workflow = cli("me", "--json")
    assert workflow.code == 0 and workflow.json["role"] == "deployer"
    # An org admin cannot grant an environment to itself.
    body = tmp_path / "grab.json"
    body.write_text(json.dumps({"environments": {"prod": {"project": "x-prod", "database": "p"}}}))
    refused = cli("orgs", "set", "acme", "--file", str(body), *admin(identity))
    assert refused.code != 0
