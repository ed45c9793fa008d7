"""Test support for the GitHub Action: a runner for composite actions and a fake GitHub API.

`ActionRunner` runs `action.yml` the way a GitHub runner does: it reads `runs.steps`,
evaluates the `${{ }}` expressions of each step (inputs with their defaults, the
`github` context, earlier steps' outputs), runs each `run` script with
`bash --noprofile --norc -eo pipefail` in a subprocess with the step's `env`, gives every
step its own `GITHUB_OUTPUT` file, collects the job summary and maps the action's outputs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class StepResult:
    id: str | None
    code: int
    stdout: str
    outputs: dict[str, str]


@dataclass
class ActionResult:
    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == 0

    def errors(self) -> list[str]:
        """The messages of `::error ...::message` workflow commands, unescaped as the runner
        shows them."""
        return [
            line.split("::", 2)[2].replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
            for line in self.stdout.splitlines()
            if line.startswith("::error")
        ]

    def __repr__(self) -> str:
        tail = self.stdout[-3000:]
        return f"ActionResult(code={self.code}, outputs={self.outputs}, stdout={tail!r})"


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


class ActionRunner:
    """Runs the repository's composite action in a job whose context the test sets."""

    def __init__(self, workdir: Path, env: dict[str, str], github: dict[str, str] | None = None):
        self.definition = yaml.safe_load((ROOT / "action.yml").read_text())
        self.workdir = workdir
        self.env = env
        self.github = {
            "sha": SHA,
            "repository": "acme/app",
            "run_id": "4242",
            "server_url": "https://github.com",
            "action_path": str(ROOT),
            "workflow": "deploy",
            **(github or {}),
        }

    def evaluate(self, text: Any, scope: dict[str, Any]) -> str:
        if not isinstance(text, str):
            return (
                "" if text is None else str(text).lower() if isinstance(text, bool) else str(text)
            )

        def value(match: re.Match) -> str:
            path = match.group(1).split(".")
            if path[0] == "inputs" and len(path) == 2:
                return scope["inputs"].get(path[1], "")
            if path[0] == "steps" and len(path) == 4 and path[2] == "outputs":
                return scope["steps"].get(path[1], {}).get(path[3], "")
            if path[0] == "github" and len(path) == 2:
                return self.github.get(path[1], "")
            if path[0] == "runner" and path[1:] == ["temp"]:
                return str(self.workdir)
            raise NotImplementedError(f"expression not supported by the test runner: {match[0]}")

        return EXPRESSION.sub(value, text)

    def run(self, timeout: float = 120, **given: str) -> ActionResult:
        """Run the action with these inputs (keyword names with `_` for `-`)."""
        given = {name.replace("_", "-"): str(v) for name, v in given.items()}
        declared = self.definition["inputs"]
        unknown = set(given) - set(declared)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        scope: dict[str, Any] = {"inputs": {}, "steps": {}}
        for name, spec in declared.items():
            if name in given:
                scope["inputs"][name] = given[name]
            else:
                scope["inputs"][name] = self.evaluate(spec.get("default", ""), scope)
        missing = [n for n, s in declared.items() if s.get("required") and not scope["inputs"][n]]
        assert not missing, f"required inputs missing: {missing}"

        summary_text, stdout, results, code = "", "", [], 0
        for index, step in enumerate(self.definition["runs"]["steps"]):
            assert "if" not in step and "uses" not in step, "the test runner runs bash steps only"
            assert step["shell"] == "bash"
            step_env = {k: self.evaluate(v, scope) for k, v in (step.get("env") or {}).items()}
            script = self.workdir / f"step-{index}-{uuid.uuid4().hex[:6]}.sh"
            script.write_text(self.evaluate(step["run"], scope))
            output_file = self.workdir / f"output-{index}-{uuid.uuid4().hex[:6]}"
            summary_file = self.workdir / f"summary-{index}-{uuid.uuid4().hex[:6]}"
            output_file.touch()
            summary_file.touch()
            env = {
                **self.env,
                "GITHUB_ACTION_PATH": str(ROOT),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_STEP_SUMMARY": str(summary_file),
                **step_env,
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                env=env,
                cwd=self.workdir,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            outputs = read_outputs(output_file)
            stdout += done.stdout + done.stderr
            summary_text += summary_file.read_text()
            results.append(StepResult(step.get("id"), done.returncode, done.stdout, outputs))
            if step.get("id"):
                scope["steps"][step["id"]] = outputs
            if done.returncode != 0:
                code = done.returncode
                break
        action_outputs = {
            name: self.evaluate(spec["value"], scope)
            for name, spec in self.definition.get("outputs", {}).items()
        }
        return ActionResult(code, stdout, action_outputs, summary_text, results)


def job_env(workdir: Path, token_url: str, request_token: str, github_api: str) -> dict[str, str]:
    """The environment a GitHub-hosted runner gives a job with `id-token: write`."""
    venv_bin = str(Path(sys.executable).parent)  # python3 with requests, as on hosted runners
    return {
        "PATH": os.pathsep.join([venv_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(workdir),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKFLOW": "deploy",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": github_api,
        "RUNNER_TEMP": str(workdir),
        "ACTIONS_ID_TOKEN_REQUEST_URL": token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
    }


class FakeGitHubApi:
    """GitHub's REST API as far as the Action uses it: commit statuses, deployments and
    deployment statuses, recorded per repository."""

    def __init__(self, token: str = "ghs_workflow_token"):
        self.token = token
        self.statuses: list[dict[str, Any]] = []
        self.deployments: list[dict[str, Any]] = []
        self.deployment_statuses: list[dict[str, Any]] = []
        self.refused: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = api.answer(self.path, self.headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path: str, headers, body: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            self.refused.append(path)
            return 401, {"message": "Bad credentials"}
        if match := re.fullmatch(r"/repos/([^/]+/[^/]+)/statuses/([0-9a-f]{40})", path):
            if body.get("state") not in ("pending", "success", "failure", "error"):
                return 422, {"message": "Validation Failed"}
            record = {"repository": match[1], "sha": match[2], **body}
            self.statuses.append(record)
            return 201, record
        if match := re.fullmatch(r"/repos/([^/]+/[^/]+)/deployments", path):
            record = {"id": len(self.deployments) + 1, "repository": match[1], **body}
            self.deployments.append(record)
            return 201, record
        if match := re.fullmatch(r"/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses", path):
            allowed = (
                "error",
                "failure",
                "inactive",
                "in_progress",
                "queued",
                "pending",
                "success",
            )
            if body.get("state") not in allowed or int(match[2]) > len(self.deployments):
                return 422, {"message": "Validation Failed"}
            record = {"deployment_id": int(match[2]), **body}
            self.deployment_statuses.append(record)
            return 201, record
        return 404, {"message": "Not Found"}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
