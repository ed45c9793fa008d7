"""The GitHub side of the Action: the runner's files and commands (outputs, job summary,
annotations), and the REST API calls that tell the repository how a release went
(commit statuses, deployments and deployment statuses)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TextIO

import requests

from cli import __version__

DEFAULT_API_URL = "https://api.github.com"
# GitHub cuts status descriptions at 140 characters.
DESCRIPTION_LIMIT = 140


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Workflow:
    """The runner's side: `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and workflow commands."""

    def __init__(self, env: Mapping[str, str], stdout: TextIO):
        self.env = env
        self.stdout = stdout

    def say(self, line: str) -> None:
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def output(self, name: str, value: Any) -> None:
        """Set a step output (a heredoc when the value spans lines)."""
        text = "" if value is None else str(value)
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            self.say(f"{name}={text}")
            return
        with open(path, "a", encoding="utf-8") as out:
            if "\n" in text or "\r" in text:
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
                out.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
            else:
                out.write(f"{name}={text}\n")

    def summary(self, markdown: str) -> None:
        """Append to the job summary (printed when the runner gives no summary file)."""
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n")

    def error(self, message: str, title: str = "deployq") -> None:
        self.say(f"::error title={escape_property(title)}::{escape_data(message)}")

    def warning(self, message: str, title: str = "deployq") -> None:
        self.say(f"::warning title={escape_property(title)}::{escape_data(message)}")

    def notice(self, message: str, title: str = "deployq") -> None:
        self.say(f"::notice title={escape_property(title)}::{escape_data(message)}")

    @property
    def run_url(self) -> str | None:
        server, repo, run = (
            self.env.get("GITHUB_SERVER_URL") or "https://github.com",
            self.env.get("GITHUB_REPOSITORY"),
            self.env.get("GITHUB_RUN_ID"),
        )
        return f"{server}/{repo}/actions/runs/{run}" if repo and run else None


class GitHubApiError(Exception):
    """A GitHub REST call that did not succeed (reported as a warning, never fatal)."""


class Repository:
    """The GitHub REST API of one repository, with the workflow's token."""

    def __init__(
        self,
        repository: str,
        token: str,
        api_url: str | None = None,
        session: requests.Session | None = None,
    ):
        self.repository = repository
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.session = session or requests.Session()
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"deployq-action/{__version__}",
        }

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        try:
            response = self.session.post(url, json=body, headers=self.headers, timeout=30)
        except requests.RequestException as exc:
            raise GitHubApiError(f"cannot reach {self.api_url}: {exc}") from None
        if response.status_code >= 300:
            try:
                message = response.json().get("message")
            except (ValueError, AttributeError):
                message = None
            raise GitHubApiError(
                f"POST {path} answered HTTP {response.status_code}"
                + (f": {message}" if message else "")
            )
        try:
            return response.json()
        except ValueError:
            return {}

    def commit_status(
        self, sha: str, state: str, description: str, context: str, target_url: str | None
    ) -> None:
        """state: pending, success, failure or error."""
        body = {"state": state, "description": description[:DESCRIPTION_LIMIT], "context": context}
        if target_url:
            body["target_url"] = target_url
        self._post(f"/statuses/{sha}", body)

    def create_deployment(
        self, ref: str, environment: str, description: str, payload: dict[str, Any]
    ) -> int:
        body = {
            "ref": ref,
            "environment": environment,
            "description": description[:DESCRIPTION_LIMIT],
            "auto_merge": False,
            "required_contexts": [],  # deployq is the gate; the commit's checks already ran
            "payload": payload,
            "production_environment": environment.lower() in ("production", "prod"),
            "transient_environment": False,
        }
        created = self._post("/deployments", body)
        if not isinstance(created.get("id"), int):
            raise GitHubApiError(f"POST /deployments created no deployment: {created}")
        return created["id"]

    def deployment_status(
        self,
        deployment_id: int,
        state: str,
        description: str,
        log_url: str | None,
        environment_url: str | None = None,
    ) -> None:
        """state: queued, in_progress, success, failure, error or inactive."""
        body: dict[str, Any] = {"state": state, "description": description[:DESCRIPTION_LIMIT]}
        if log_url:
            body["log_url"] = log_url
        if environment_url:
            body["environment_url"] = environment_url
        self._post(f"/deployments/{deployment_id}/statuses", body)


class Reporter:
    """Tells GitHub how a release goes; does nothing without a token, and a failed call is
    a warning on the run, never a failed step."""

    def __init__(self, workflow: Workflow, repository: Repository | None, sha: str | None):
        self.workflow = workflow
        self.repository = repository
        self.sha = sha
        self.deployment: int | None = None

    @classmethod
    def from_env(cls, workflow: Workflow, token: str, sha: str | None) -> Reporter:
        env = workflow.env
        repo = env.get("GITHUB_REPOSITORY")
        if not token or not repo:
            if token:
                workflow.warning("github-token is set but GITHUB_REPOSITORY is not; no statuses")
            return cls(workflow, None, sha)
        return cls(workflow, Repository(repo, token, env.get("GITHUB_API_URL")), sha)

    def _try(self, what: str, call, *args, **kwargs) -> Any:
        if self.repository is None:
            return None
        try:
            return call(*args, **kwargs)
        except GitHubApiError as exc:
            self.workflow.warning(f"could not {what}: {exc}", title="deployq: GitHub")
            return None

    def commit_status(self, state: str, description: str, context: str) -> None:
        if self.repository is None or not self.sha:
            return
        self._try(
            "set the commit status",
            self.repository.commit_status,
            self.sha,
            state,
            description,
            context,
            self.workflow.run_url,
        )

    def start_deployment(self, environment: str, description: str, payload: dict) -> None:
        if self.repository is None or not self.sha:
            return
        self.deployment = self._try(
            "create the GitHub deployment",
            self.repository.create_deployment,
            self.sha,
            environment,
            description,
            payload,
        )
        self.deployment_status("in_progress", description)

    def deployment_status(
        self, state: str, description: str, environment_url: str | None = None
    ) -> None:
        if self.repository is None or self.deployment is None:
            return
        self._try(
            "set the GitHub deployment status",
            self.repository.deployment_status,
            self.deployment,
            state,
            description,
            self.workflow.run_url,
            environment_url,
        )
