"""`deployq packages ...` and `deployq jobs ...` against the real packages and worker functions
(served over HTTP, the Firestore emulator behind them, the Cloud Tasks fake delivering jobs)."""

from __future__ import annotations

import json
import zipfile

from tests.conftest import AUDIENCE, DEPLOYER_EMAIL, VIEWER_EMAIL
from tests.support import packages as support


def as_deployer(identity) -> list[str]:
    return ["--token", identity.google_token(DEPLOYER_EMAIL, AUDIENCE)]


def seed_shop(project) -> None:
    dev = support.database(project, "dev")
    for table, rows in support.shop(customers=3).items():
        support.seed(dev, table, rows)


def test_capture_generate_import_deploy_and_roll_back(
    cli, packages_stack, identity, project, tmp_path
):
    seed_shop(project)
    auth = as_deployer(identity)
    created = cli(
        "packages",
        "create",
        *auth,
        "--name",
        "shop",
        "--version",
        "1.0.0",
        "--type",
        "database",
        "--environment",
        "dev",
        "--tables",
        "customers",
        "--table",
        json.dumps(support.SHOP_TABLES[1]),
        "--exclude",
        "customers=password_hash",
        "--tags",
        "demo",
        "--json",
    )
    assert created.code == 0, created
    package = created.json["package"]
    assert package["metadata"]["record_counts"] == {"customers": 3, "orders": 6}
    assert package["tags"] == ["demo"]

    listed = cli("packages", "list", *auth)
    assert listed.code == 0 and package["id"] in listed.out
    assert listed.out.splitlines()[0].split()[:3] == ["ID", "NAME", "VERSION"]

    archive = tmp_path / "shop.zip"
    generated = cli(
        "packages", "generate", package["id"], *auth, "--format", "zip", "-o", str(archive)
    )
    assert generated.code == 0, generated
    assert "shop-v1.0.0.json" in zipfile.ZipFile(archive).namelist()

    imported = cli("packages", "import", str(archive), *auth, "--json")
    assert imported.code == 0, imported
    copy = imported.json["package"]
    assert copy["id"] != package["id"] and copy["checksum"] == package["checksum"]

    deployed = cli("packages", "deploy", copy["id"], *auth, "--environment", "staging", "--json")
    assert deployed.code == 0, deployed
    report = deployed.json["deployment"]
    assert report["status"] == "completed" and report["records_succeeded"] == 9
    staging = support.database(project, "staging")
    customer = staging.collection("customers").document("1").get().to_dict()
    assert "password_hash" not in customer and customer["name"] == "customer 1"

    shown = cli("packages", "deployment", report["id"], *auth)
    assert shown.code == 0 and "completed" in shown.out

    history = cli("packages", "actions", copy["id"], *auth, "--json")
    assert {a["action_type"] for a in history.json["actions"]} >= {"import", "deploy"}


def test_a_background_deploy_is_followed_to_the_end(cli, packages_stack, identity, project):
    seed_shop(project)
    auth = as_deployer(identity)
    created = cli(
        "packages",
        "create",
        *auth,
        "--name",
        "shop",
        "--version",
        "2",
        "--type",
        "document",
        "--environment",
        "dev",
        "--collections",
        "customers",
        "--json",
    )
    assert created.code == 0, created
    package_id = created.json["package"]["id"]

    result = cli(
        "packages",
        "deploy",
        package_id,
        *auth,
        "--environment",
        "staging",
        "--background",
        "--poll-interval",
        "0.2",
        "--json",
    )
    assert result.code == 0, result
    job = result.json
    assert job["status"] == "completed"
    assert "job " in result.err and "completed" in result.err  # progress on stderr
    staging = support.database(project, "staging")
    assert len(list(staging.collection("customers").stream())) == 3

    shown = cli("jobs", "show", job["job_id"], *auth, "--json")
    assert shown.code == 0 and shown.json["job_type"] == "package_deployment"
    finished = cli("jobs", "cancel", job["job_id"], *auth)
    assert finished.code == 5, finished  # a finished job cannot be cancelled


def test_package_errors_reach_the_exit_code(cli, packages_stack, identity):
    viewer = ["--token", identity.google_token(VIEWER_EMAIL, AUDIENCE)]
    denied = cli(
        "packages",
        "create",
        *viewer,
        "--name",
        "x",
        "--version",
        "1",
        "--type",
        "document",
        "--environment",
        "dev",
        "--collections",
        "c",
    )
    assert denied.code == 3, denied
    missing = cli("packages", "show", "no-such-package", *as_deployer(identity))
    assert missing.code == 4, missing
    bad = cli(
        "packages",
        "create",
        *as_deployer(identity),
        "--name",
        "x",
        "--version",
        "1",
        "--type",
        "document",
        "--environment",
        "nowhere",
        "--collections",
        "c",
    )
    assert bad.code in (2, 4), bad


def test_a_package_deployment_is_rolled_back(cli, packages_stack, identity, project):
    seed_shop(project)
    auth = as_deployer(identity)
    created = cli(
        "packages",
        "create",
        *auth,
        "--name",
        "shop",
        "--version",
        "3",
        "--type",
        "document",
        "--environment",
        "dev",
        "--collections",
        "customers",
        "--json",
    )
    package_id = created.json["package"]["id"]
    deployed = cli("packages", "deploy", package_id, *auth, "--environment", "staging", "--json")
    report = deployed.json["deployment"]
    staging = support.database(project, "staging")
    assert staging.collection("customers").document("1").get().exists

    undone = cli("packages", "rollback", report["id"], *auth, "--json")
    assert undone.code == 0, undone
    assert undone.json["deployment"]["status"] == "rolled_back"
    assert not staging.collection("customers").document("1").get().exists

    again = cli("packages", "rollback", report["id"], *auth)
    assert again.code == 5, again  # not an active deployment any more


def test_a_database_package_deployment_is_rolled_back(cli, packages_stack, identity, project):
    seed_shop(project)
    auth = as_deployer(identity)
    created = cli(
        "packages",
        "create",
        *auth,
        "--name",
        "shop",
        "--version",
        "4",
        "--type",
        "database",
        "--environment",
        "dev",
        "--tables",
        "customers",
        "--table",
        json.dumps(support.SHOP_TABLES[1]),
        "--json",
    )
    package_id = created.json["package"]["id"]
    report = cli(
        "packages", "deploy", package_id, *auth, "--environment", "staging", "--json"
    ).json["deployment"]
    undone = cli("packages", "rollback", report["id"], *auth, "--json")
    assert undone.code == 0, undone
    staging = support.database(project, "staging")
    assert not staging.collection("orders").document("1").get().exists
