"""Where the CLI's credentials come from, chosen from the environment with no flags."""

from __future__ import annotations

import base64
import json
import subprocess
import time

import pytest

from cli.auth import Credentials, origin, select_source, token_expiry
from cli.errors import AuthError, UsageError

ACTIONS = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.example/token?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req",
}


@pytest.mark.parametrize(
    "env,token,mode,expected",
    [
        ({}, None, None, "google"),
        (ACTIONS, None, None, "github-actions"),
        ({**ACTIONS, "GITHUB_TOKEN": "ghp"}, None, None, "github-actions"),  # OIDC wins in Actions
        ({"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x"}, None, None, "google"),  # no request token
        ({"GITHUB_TOKEN": "ghp"}, None, None, "github-pat"),
        ({"GITHUB_TOKEN": "ghp"}, "tok", None, "token"),
        ({"DEPLOYQ_TOKEN": "tok"}, None, None, "token"),
        ({**ACTIONS}, None, "google", "google"),
        ({"DEPLOYQ_AUTH": "github-pat", **ACTIONS}, None, None, "github-pat"),
        ({"DEPLOYQ_AUTH": "none"}, None, None, "none"),
        ({"DEPLOYQ_AUTH": "google"}, None, "github-actions", "github-actions"),  # flag beats env
    ],
)
def test_source_selection(env, token, mode, expected):
    assert select_source(env, token=token, mode=mode) == expected


@pytest.mark.parametrize(
    "env,token,mode",
    [
        ({}, None, "kerberos"),
        ({}, None, "token"),
        ({}, "tok", "google"),
    ],
)
def test_contradictory_choices_are_usage_errors(env, token, mode):
    with pytest.raises(UsageError):
        select_source(env, token=token, mode=mode)


def jwt_with(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def test_token_expiry_reads_exp_without_verifying():
    assert token_expiry(jwt_with({"exp": 1700000000})) == 1700000000
    assert token_expiry("ghp_not_a_jwt") is None
    assert token_expiry("a.b.c") is None


def test_origin_is_the_audience_of_a_function_url():
    assert origin("https://deployments-abc-ew.a.run.app/v1/x?y=1") == (
        "https://deployments-abc-ew.a.run.app"
    )
    assert origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_a_forced_token_carries_the_organisation_when_given():
    creds = Credentials("token", env={}, token="abc", org="acme")
    assert creds.headers("https://x") == {"Authorization": "Bearer abc", "X-Organisation": "acme"}
    assert Credentials("token", env={}, token="abc").headers("https://x") == {
        "Authorization": "Bearer abc"
    }


def test_a_pat_needs_an_organisation():
    creds = Credentials("github-pat", env={"GITHUB_TOKEN": "ghp_1"})
    with pytest.raises(UsageError, match="--org"):
        creds.headers("https://x")
    creds = Credentials("github-pat", env={"GITHUB_TOKEN": "ghp_1", "DEPLOYQ_ORG": "acme"})
    assert creds.headers("https://x") == {"Authorization": "Bearer ghp_1", "X-Organisation": "acme"}


def test_local_stack_without_auth_sends_only_the_organisation():
    assert Credentials("none", env={}, org="acme").headers("http://127.0.0.1:8080") == {
        "X-Organisation": "acme"
    }


class Gcloud:
    """Stands in for the `gcloud` executable: records each command, prints a token."""

    def __init__(self, tokens: list[str], returncode: int = 0, stderr: str = ""):
        self.tokens, self.returncode, self.stderr = list(tokens), returncode, stderr
        self.commands: list[list[str]] = []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        token = self.tokens.pop(0) if self.tokens else ""
        return subprocess.CompletedProcess(command, self.returncode, token + "\n", self.stderr)


def test_google_identity_from_gcloud_is_fetched_once_and_renewed_before_expiry():
    soon = jwt_with({"exp": time.time() + 30})  # inside the renewal margin
    later = jwt_with({"exp": time.time() + 3600})
    gcloud = Gcloud([soon, later])
    creds = Credentials("google", env={}, org="acme", run=gcloud, which=lambda _: "/bin/gcloud")
    assert creds.headers("https://d.run.app")["Authorization"] == f"Bearer {soon}"
    assert creds.headers("https://d.run.app")["Authorization"] == f"Bearer {later}"
    assert creds.headers("https://d.run.app")["Authorization"] == f"Bearer {later}"
    assert len(gcloud.commands) == 2
    assert gcloud.commands[0] == ["gcloud", "auth", "print-identity-token", "--quiet"]


def test_an_explicit_audience_is_passed_to_gcloud():
    gcloud = Gcloud(["tok"])
    creds = Credentials(
        "google",
        env={},
        org="acme",
        audience="https://aud",
        run=gcloud,
        which=lambda _: "/bin/gcloud",
    )
    creds.headers("https://d.run.app")
    assert "--audiences=https://aud" in gcloud.commands[0]


def test_adc_failure_falls_back_to_gcloud(tmp_path):
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")}
    gcloud = Gcloud(["from-gcloud"])
    creds = Credentials("google", env=env, org="acme", run=gcloud, which=lambda _: "/bin/gcloud")
    assert creds.headers("https://d.run.app")["Authorization"] == "Bearer from-gcloud"


def test_gcloud_failure_is_an_auth_error():
    gcloud = Gcloud(
        [""],
        returncode=1,
        stderr="ERROR: (gcloud.auth) You do not currently have an active account selected.",
    )
    creds = Credentials("google", env={}, org="acme", run=gcloud, which=lambda _: "/bin/gcloud")
    with pytest.raises(AuthError, match="active account"):
        creds.headers("https://d.run.app")


def test_google_identity_needs_an_organisation():
    creds = Credentials("google", env={}, run=Gcloud(["t"]), which=lambda _: "/bin/gcloud")
    with pytest.raises(UsageError, match="DEPLOYQ_ORG"):
        creds.headers("https://d.run.app")


class Answer:
    def __init__(self, status: int, body: dict):
        self.status_code, self.body = status, body

    def json(self):
        return self.body


class ActionsEndpoint:
    """Stands in for GitHub's token endpoint (the session the CLI would use)."""

    def __init__(self, answer: Answer):
        self.answer, self.calls = answer, []

    def get(self, url, headers, timeout):
        self.calls.append((url, headers))
        return self.answer


def test_the_actions_token_is_requested_for_the_deployq_audience():
    endpoint = ActionsEndpoint(Answer(200, {"value": "gh-oidc"}))
    creds = Credentials("github-actions", env=ACTIONS, session=endpoint)
    assert creds.headers("https://x") == {"Authorization": "Bearer gh-oidc"}
    url, headers = endpoint.calls[0]
    assert url == ACTIONS["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=deployment-queue-api"
    assert headers == {"Authorization": "bearer req"}

    custom = ActionsEndpoint(Answer(200, {"value": "t"}))
    env = {**ACTIONS, "DEPLOYQ_OIDC_AUDIENCE": "my aud"}
    Credentials("github-actions", env=env, session=custom).headers("https://x")
    assert custom.calls[0][0].endswith("&audience=my%20aud")


def test_a_refused_actions_token_request_names_the_missing_permission():
    creds = Credentials("github-actions", env=ACTIONS, session=ActionsEndpoint(Answer(403, {})))
    with pytest.raises(AuthError, match="id-token: write"):
        creds.headers("https://x")
