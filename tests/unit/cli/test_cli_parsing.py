"""Argument parsing, request composition, retries and exit codes, with a stand-in HTTP session."""

from __future__ import annotations

import io
import json

import pytest
import requests

from cli.auth import Credentials
from cli.client import Client
from cli.errors import CliError, exit_code_for_status
from cli.main import build_parser, main
from cli.runtime import Runtime

URL = "https://deployments.example"


def response(status: int, body=None, headers: dict | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = b"" if body is None else json.dumps(body).encode()
    answer.headers.update({"Content-Type": "application/json", **(headers or {})})
    return answer


class Session:
    """Records requests and answers from a script of responses (or raises)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[dict] = []

    def request(self, method, url, **kwargs):
        self.sent.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def run(argv: list[str], *answers, env: dict | None = None):
    """Parse argv, run the command against a scripted session; (exit code, stdout, session)."""
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    rt = Runtime(
        args,
        env={"DEPLOYQ_URL": URL, **(env or {})},
        stdout=out,
        stderr=io.StringIO(),
        sleep=lambda _: None,
    )
    rt._discovered = {}  # no discovery: the other functions fall back to DEPLOYQ_URL
    session = Session(*answers)
    for part in ("deployments", "packages", "canary"):
        rt._clients[part] = Client(
            rt.base_url(part),
            Credentials("token", env={}, token="t"),
            session=session,
            sleep=lambda _: None,
        )
    return args.func(rt), out.getvalue(), session


DEPLOYMENT = {
    "id": "d-1",
    "name": "api",
    "version": "1",
    "status": "scheduled",
    "trigger": "auto",
    "environment": None,
    "region": "eu",
    "cell": None,
    "created_at": "2026-01-01T00:00:00.000000Z",
}


def test_common_options_go_before_or_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--json", "--org", "acme", "deployments", "list"])
    after = parser.parse_args(["deployments", "list", "--json", "--org", "acme"])
    for args in (before, after):
        assert args.json is True and args.org == "acme"
    assert parser.parse_args(["deployments", "list"]).json is False


def test_help_and_usage_errors_exit_codes(capsys):
    assert main(["--help"]) == 0
    assert main(["deployments", "create", "--help"]) == 0
    assert main([]) == 2
    assert main(["deployments", "create", "--name", "x"]) == 2
    assert main(["deployments", "list", "--status", "bogus"]) == 2
    assert main(["canary", "start", "--steps", "ten"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "status,code",
    [(400, 2), (413, 2), (415, 2), (401, 3), (403, 3), (404, 4), (409, 5), (500, 1), (503, 1)],
)
def test_http_statuses_map_to_exit_codes(status, code):
    assert exit_code_for_status(status) == code


def test_create_sends_the_body_and_an_idempotency_key():
    code, out, session = run(
        [
            "deployments",
            "create",
            "--name",
            "api",
            "--provider",
            "gcp",
            "--version",
            "1",
            "--type",
            "k8s",
            "--region",
            "eu",
            "--manual",
            "--json",
        ],
        response(201, DEPLOYMENT),
    )
    assert code == 0 and json.loads(out)["id"] == "d-1"
    sent = session.sent[0]
    assert sent["method"] == "POST" and sent["url"] == f"{URL}/v1/deployments"
    assert sent["json"] == {
        "name": "api",
        "version": "1",
        "provider": "gcp",
        "type": "k8s",
        "region": "eu",
        "auto": False,
    }
    assert len(sent["headers"]["Idempotency-Key"]) == 36
    assert sent["headers"]["Authorization"] == "Bearer t"


def test_create_is_retried_with_the_same_key_when_the_service_is_unavailable():
    code, _, session = run(
        [
            "deployments",
            "create",
            "--name",
            "api",
            "--provider",
            "gcp",
            "--version",
            "1",
            "--type",
            "k8s",
            "--idempotency-key",
            "k-1",
        ],
        requests.ConnectionError("reset"),
        response(503, {"error": "busy", "code": "unavailable", "details": []}),
        response(201, DEPLOYMENT),
    )
    assert code == 0 and len(session.sent) == 3
    assert {s["headers"]["Idempotency-Key"] for s in session.sent} == {"k-1"}


def test_a_post_without_a_key_is_not_retried():
    with pytest.raises(CliError) as failure:
        run(
            ["deployments", "claim", "--name", "api", "--provider", "gcp"],
            response(503, {"error": "busy", "code": "unavailable", "details": []}),
            response(200, DEPLOYMENT),
        )
    assert failure.value.exit_code == 1


def test_a_concurrent_update_is_retried_for_patch():
    code, _, session = run(
        ["deployments", "update", "d-1", "--status", "deployed"],
        response(
            409, {"error": "changed concurrently", "code": "concurrent_update", "details": []}
        ),
        response(200, {**DEPLOYMENT, "status": "deployed"}),
    )
    assert code == 0 and len(session.sent) == 2
    assert session.sent[1]["json"] == {"status": "deployed"}


def test_update_with_nothing_to_change_sends_nothing():
    with pytest.raises(CliError) as failure:
        run(["deployments", "update", "d-1"])
    assert failure.value.exit_code == 2


def test_rollback_by_taxonomy_keeps_empty_values_as_null():
    code, _, session = run(
        [
            "deployments",
            "rollback",
            "--name",
            "api",
            "--provider",
            "gcp",
            "--cloud-account-id",
            "p1",
            "--region",
            "",
            "--target-version",
            "1.2",
        ],
        response(201, DEPLOYMENT),
    )
    assert code == 0
    assert session.sent[0]["url"] == f"{URL}/v1/deployments/rollback"
    assert session.sent[0]["params"] == {
        "name": "api",
        "provider": "gcp",
        "cloud_account_id": "p1",
        "region": "",
        "target_version": "1.2",
    }


def test_claim_leaves_out_absent_taxonomy_fields():
    _, _, session = run(
        [
            "deployments",
            "claim",
            "--name",
            "api",
            "--provider",
            "aws",
            "--region",
            "us",
            "--cell",
            "",
        ],
        response(200, DEPLOYMENT),
    )
    assert session.sent[0]["json"] == {"name": "api", "provider": "aws", "region": "us"}


def test_list_prints_an_aligned_table_and_the_next_page_hint():
    args = build_parser().parse_args(["deployments", "list", "--limit", "1"])
    out, err = io.StringIO(), io.StringIO()
    rt = Runtime(args, env={"DEPLOYQ_URL": URL}, stdout=out, stderr=err)
    rt._clients["deployments"] = Client(
        URL,
        Credentials("token", env={}, token="t"),
        session=Session(response(200, [DEPLOYMENT], {"X-Next-Page-Token": "n2"})),
    )
    assert args.func(rt) == 0
    header, row = out.getvalue().splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "VERSION",
        "ENV",
        "STATUS",
        "TRIGGER",
        "REGION",
        "CELL",
        "CREATED",
    ]
    assert row.split() == [
        "d-1",
        "api",
        "1",
        "-",
        "scheduled",
        "auto",
        "eu",
        "-",
        "2026-01-01T00:00:00.000000Z",
    ]
    assert header.index("STATUS") == row.index("scheduled")
    assert "--page-token n2" in err.getvalue()


def test_package_deploy_options_and_a_background_job_is_followed():
    job = {"job_id": "j-1", "job_type": "package_deployment", "status": "processing"}
    code, out, session = run(
        [
            "packages",
            "deploy",
            "p-1",
            "--environment",
            "staging",
            "--skip-existing",
            "--batch-size",
            "50",
            "--background",
            "--json",
            "--poll-interval",
            "0",
        ],
        response(202, {"message": "queued", "job_id": "j-1", "status": "queued"}),
        response(200, job),
        response(200, {**job, "status": "completed", "result": {"deployment_id": "pd-1"}}),
    )
    assert code == 0
    assert session.sent[0]["json"] == {
        "environment": "staging",
        "run_as_background": True,
        "options": {"skip_existing": True, "batch_size": 50},
    }
    assert [s["url"] for s in session.sent[1:]] == [f"{URL}/v1/jobs/j-1"] * 2
    assert json.loads(out)["status"] == "completed"


def test_a_failed_job_exits_1():
    code, _, _ = run(
        ["jobs", "show", "j-1", "--wait", "--poll-interval", "0"],
        response(200, {"job_id": "j-1", "status": "failed", "error": "boom"}),
    )
    assert code == 1


def test_a_synchronous_deploy_that_failed_exits_1():
    code, _, _ = run(
        ["packages", "deploy", "p-1", "--environment", "prod"],
        response(
            200,
            {
                "message": "failed",
                "deployment": {
                    "id": "pd",
                    "status": "failed",
                    "errors": [{"table": "users", "key": "1", "error": "exists"}],
                },
            },
        ),
    )
    assert code == 1


def test_package_create_builds_the_filter():
    _, _, session = run(
        [
            "packages",
            "create",
            "--name",
            "users",
            "--version",
            "1",
            "--type",
            "database",
            "--environment",
            "dev",
            "--tables",
            "users,orders",
            "--where",
            "users=active = TRUE AND age >= 18",
            "--where",
            'orders=[["total", ">", 10]]',
            "--exclude",
            "users=password,token",
            "--tags",
            "a,b",
        ],
        response(201, {"package": {"id": "p"}, "message": "created"}),
    )
    assert session.sent[0]["json"] == {
        "name": "users",
        "version": "1",
        "package_type": "database",
        "environment": "dev",
        "tags": ["a", "b"],
        "filter": {
            "tables": ["users", "orders"],
            "where_clause": {
                "users": "active = TRUE AND age >= 18",
                "orders": [["total", ">", 10]],
            },
            "exclude_columns": {"users": ["password", "token"]},
        },
    }


def test_canary_watch_ends_with_the_verdict():
    progressing = {"id": "c-1", "status": "progressing", "checks": []}
    check = {"number": 1, "verdict": "Unhealthy", "reason": "error rate 5% > 1%"}
    code, out, session = run(
        ["canary", "watch", "c-1", "--poll-interval", "0", "--json"],
        response(200, progressing),
        response(
            200, {**progressing, "status": "rolled_back", "checks": [check], "reason": "Unhealthy"}
        ),
    )
    assert code == 1 and json.loads(out)["status"] == "rolled_back"
    code, _, _ = run(
        ["canary", "watch", "c-1"], response(200, {**progressing, "status": "promoted"})
    )
    assert code == 0


def test_urls_of_other_functions_fall_back_to_deployq_url():
    args = build_parser().parse_args(["packages", "list"])
    rt = Runtime(args, env={"DEPLOYQ_URL": URL})
    rt._discovered = {}
    assert rt.base_url("packages") == URL
    rt = Runtime(args, env={"DEPLOYQ_URL": URL, "DEPLOYQ_PACKAGES_URL": "https://p.example"})
    assert rt.base_url("packages") == "https://p.example"


def test_discovery_names_the_other_functions_and_flags_still_win():
    args = build_parser().parse_args(["canary", "list"])
    rt = Runtime(args, env={"DEPLOYQ_URL": URL})
    rt._discovered = {"canary": "https://c.example", "packages": "https://p.example"}
    assert rt.base_url("canary") == "https://c.example"
    assert rt.base_url("packages") == "https://p.example"
    args = build_parser().parse_args(["canary", "list", "--canary-url", "https://flag.example"])
    rt = Runtime(args, env={"DEPLOYQ_URL": URL})
    rt._discovered = {"canary": "https://c.example"}
    assert rt.base_url("canary") == "https://flag.example"
