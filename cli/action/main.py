"""The GitHub Action's commands (`action.yml` runs `python -m cli.action`).

Inputs arrive as `INPUT_<NAME>` variables (`api-url` -> `INPUT_API_URL`), as the runner
passes them; results go to `GITHUB_OUTPUT` (`deployment-id`, `canary-id`, `status`,
`reason`, `version`) and, for canary runs, `GITHUB_STEP_SUMMARY`. Exit 0 on success, 1 when
the step must fail (a one-line `::error` annotation says why).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from cli.action.github import Reporter, Workflow
from cli.action.inputs import Inputs
from cli.action.summary import canary_summary
from cli.action.watcher import ActionWatcher
from cli.auth import Credentials
from cli.client import Client, discover
from cli.errors import ApiFailure, CliError, UsageError
from cli.flow import (
    CANARY_FINAL,
    Release,
    ReleaseFailed,
    canary_timeout_seconds,
    one_line,
    taxonomy_of,
)

COMMANDS = ("create", "update", "claim", "wait-for-approval", "canary", "rollback")
STATUSES = ("in_progress", "deployed", "skipped", "failed")
STRATEGIES = ("canary", "blue_green", "all_at_once")
CREATE_OPTIONAL = {
    "environment": "environment",
    "cloud_account_id": "cloud-account-id",
    "region": "region",
    "cell": "cell",
    "commit_sha": "commit-sha",
    "build_uri": "build-uri",
    "description": "description",
    "notes": "notes",
}


class Action:
    """One run of the Action: its inputs, the deployq clients and what it reports."""

    def __init__(
        self,
        env: Mapping[str, str],
        stdout: TextIO,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.env = env
        self.inputs = Inputs(env)
        self.workflow = Workflow(env, stdout)
        self.sleep = sleep
        self.clock = clock
        self._release: Release | None = None

    # -- wiring -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        url = self.inputs.require("api-url", "(the deployq deployments URL)").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"api-url must be an http(s) URL, got {url!r}")
        return url

    def credentials(self) -> Credentials:
        if not (
            self.env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
            and self.env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        ):
            raise UsageError("no OIDC token available: give the job 'permissions: id-token: write'")
        return Credentials(
            "github-actions",
            env=dict(self.env),
            audience=self.inputs.get("audience", "deployment-queue-api"),
        )

    @property
    def release(self) -> Release:
        if self._release is None:
            credentials = self.credentials()
            deployments = Client(self.api_url, credentials, sleep=self.sleep)
            canary: list[Client] = []

            def canary_client() -> Client:
                if not canary:
                    canary.append(Client(self.canary_url(), credentials, sleep=self.sleep))
                return canary[0]

            self._release = Release(
                deployments,
                canary_client,
                watcher=ActionWatcher(self.workflow, self.clock),
                sleep=self.sleep,
                clock=self.clock,
            )
        return self._release

    def canary_url(self) -> str:
        url = self.inputs.get("canary-url")
        if not url:
            url = discover(self.api_url).get("canary", "")
            if url:
                self.workflow.say(
                    f"deployq: canary API at {url} (from {self.api_url}/v1/discovery)"
                )
        if not url:
            raise UsageError(
                "no canary API URL: the deployments function names none at /v1/discovery "
                "(CANARY_URL unset); give the canary-url input"
            )
        return url.rstrip("/")

    def outputs(self, **values: Any) -> None:
        for name, value in values.items():
            self.workflow.output(name.replace("_", "-"), "" if value is None else value)

    def deployment_outputs(self, record: dict[str, Any], verb: str) -> None:
        self.outputs(
            deployment_id=record.get("id"),
            status=record.get("status"),
            version=record.get("version"),
        )
        self.workflow.say(
            f"deployq: {verb} -> deployment {record.get('id')} is {record.get('status')}"
        )

    # -- commands -----------------------------------------------------------------

    def run(self) -> int:
        command = self.inputs.get("command") or (
            "update" if self.inputs.get("deployment-id") else "create"
        )
        if command not in COMMANDS:
            raise UsageError(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
        handler = getattr(self, "do_" + command.replace("-", "_"))
        return handler()

    def do_create(self) -> int:
        body = {}
        for field in ("name", "version", "provider", "type"):
            body[field] = self.inputs.require(field, "to create a deployment")
        for field, name in CREATE_OPTIONAL.items():
            value = self.inputs.get(name)
            if value:  # only non-empty optional fields are sent: an absent taxonomy field is null
                body[field] = value
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
        # A retried request returns the first result, never a second record.
        key = (
            f"gha-{self.env.get('GITHUB_RUN_ID', '0')}-"
            f"{self.env.get('GITHUB_RUN_ATTEMPT', '1')}-{digest}"
        )
        record = self.release.create(body, key)
        self.deployment_outputs(record, f"POST {self.api_url}/v1/deployments")
        if record.get("approval_status") == "pending":
            self.workflow.notice(
                f"deployment {record['id']} needs approval before it can go live "
                "(command: wait-for-approval)"
            )
        return 0

    def do_update(self) -> int:
        deployment_id = self.inputs.require("deployment-id", "to update a deployment")
        status = self.inputs.require("status", "with deployment-id")
        body: dict[str, Any] = {"status": status}
        if self.inputs.get("notes"):
            body["notes"] = self.inputs.get("notes")
        record = self.release.update(deployment_id, body)
        self.deployment_outputs(record, f"PATCH {self.api_url}/v1/deployments/{deployment_id}")
        return 0

    def do_claim(self) -> int:
        deployment_id = self.inputs.get("deployment-id")
        if deployment_id:
            record = self.release.get(deployment_id)
            if record.get("status") == "in_progress":  # a retried step: it is ours already
                self.deployment_outputs(record, f"deployment {deployment_id} already claimed")
                return 0
            taxonomy = taxonomy_of(record)
        else:
            taxonomy = {
                "name": self.inputs.require("name", "to claim (or give deployment-id)"),
                "provider": self.inputs.require("provider", "to claim (or give deployment-id)"),
                "cloud_account_id": self.inputs.get("cloud-account-id") or None,
                "region": self.inputs.get("region") or None,
                "cell": self.inputs.get("cell") or None,
            }
        try:
            record = self.release.claim(taxonomy, expected_id=deployment_id or None)
        except ApiFailure as exc:
            if exc.status == 404:
                raise ReleaseFailed(
                    f"nothing to claim: no scheduled deployment of {taxonomy['name']} "
                    "(already claimed, deployed or skipped)",
                    "nothing_scheduled",
                ) from None
            raise
        self.deployment_outputs(record, f"POST {self.api_url}/v1/deployments/claim")
        return 0

    def do_wait_for_approval(self) -> int:
        deployment_id = self.inputs.require("deployment-id", "to wait for its approval")
        timeout = (self.inputs.number("timeout-minutes", 60.0) or 60.0) * 60
        interval = self.inputs.number("poll-seconds", 10.0) or 10.0
        try:
            record = self.release.wait_for_approval(
                deployment_id, timeout=timeout, interval=interval
            )
        except ReleaseFailed as exc:
            if exc.status == "rejected":
                record = exc.record or {}
                self.reporter().commit_status(
                    "failure", exc.reason, self.status_context(record.get("environment"))
                )
            raise
        self.deployment_outputs(record, f"approval of {deployment_id}")
        self.outputs(reason=record.get("approval_status"))
        return 0

    def do_rollback(self) -> int:
        deployment_id = self.inputs.require("deployment-id", "to roll back from")
        reason = self.inputs.get("notes") or (
            f"given up by {self.env.get('GITHUB_WORKFLOW', 'a workflow')} "
            f"run {self.env.get('GITHUB_RUN_ID', '')}".strip()
        )
        canary_id = self.inputs.get("canary-id")
        if canary_id:  # a canary still running or held goes back to stable first
            stopped = self.release.stop_canary(canary_id)
            self.workflow.say(f"deployq: canary {canary_id} is {stopped.get('status')}")
        failed, rollback = self.release.give_up(
            deployment_id, reason, target_version=self.inputs.get("target-version") or None
        )
        self.workflow.say(f"deployq: deployment {deployment_id} is {failed.get('status')}")
        if rollback is None:
            self.workflow.warning(
                f"no earlier deployed version of {failed.get('name')} to roll back to",
                title="deployq rollback",
            )
            self.outputs(reason="no earlier deployed version")
            self.deployment_outputs(failed, f"rollback of {deployment_id}")
            return 0
        status = self.inputs.choice("status", STATUSES)
        if status:  # e.g. deployed: the platform already serves the version rolled back to
            rollback = self.release.update(rollback["id"], {"status": status})
        self.outputs(reason=f"rolled back to version {rollback.get('version')}")
        self.deployment_outputs(
            rollback, f"POST {self.api_url}/v1/deployments/{deployment_id}/rollback"
        )
        return 0

    # -- canary -------------------------------------------------------------------

    def reporter(self) -> Reporter:
        return Reporter.from_env(
            self.workflow, self.inputs.get("github-token"), self.inputs.get("commit-sha") or None
        )

    def status_context(self, environment: str | None) -> str:
        return f"deployq/{environment or self.inputs.get('service') or 'release'}"

    def canary_body(self, deployment: dict[str, Any] | None) -> dict[str, Any]:
        inputs = self.inputs
        deployment = deployment or {}
        strategy = inputs.choice("strategy", STRATEGIES)
        if inputs.flag("skip-canary"):
            strategy = "all_at_once"
        steps = inputs.get("steps")
        try:
            step_list = [int(s) for s in steps.split(",") if s.strip()] if steps else None
        except ValueError:
            raise UsageError(f"steps are whole percentages such as 10,50, got {steps!r}") from None
        thresholds = {
            "max_error_rate_pct": inputs.number("max-error-rate-pct"),
            "max_p95_ms": inputs.number("max-p95-ms"),
            "max_p99_ms": inputs.number("max-p99-ms"),
            "min_requests": inputs.integer("min-requests"),
        }
        compare = {
            "error_rate_margin_pct": inputs.number("compare-error-margin-pct"),
            "p99_margin_pct": inputs.number("compare-p99-margin-pct"),
        }
        body = {
            "project": inputs.get("project")
            or inputs.get("cloud-account-id")
            or deployment.get("cloud_account_id"),
            "region": inputs.get("region") or deployment.get("region"),
            "service": inputs.get("service") or inputs.get("name") or deployment.get("name"),
            "canary_revision": inputs.require("canary-revision", "to start a canary"),
            "stable_revision": inputs.get("stable-revision") or None,
            "deployment_id": deployment.get("id"),
            "environment": inputs.get("environment") or None,
            "strategy": strategy or None,
            "steps": step_list,
            "step_minutes": inputs.number("step-minutes"),
            "interval_seconds": inputs.number("interval-seconds"),
            "thresholds": {k: v for k, v in thresholds.items() if v is not None} or None,
            "on_no_data": inputs.choice("on-no-data", ("rollback", "hold")) or None,
            "compare_to_stable": {k: v for k, v in compare.items() if v is not None} or None,
            "verify": {"path": inputs.get("verify-path")} if inputs.get("verify-path") else None,
        }
        for field, flag in (("project", "project"), ("region", "region")):
            if not body[field]:
                raise UsageError(f"{flag} is required to start a canary (or a deployment with it)")
        return {k: v for k, v in body.items() if v is not None}

    def do_canary(self) -> int:
        deployment_id = self.inputs.get("deployment-id")
        deployment = self.release.get(deployment_id) if deployment_id else None
        body = self.canary_body(deployment)
        reporter = self.reporter()
        environment = body.get("environment") or (deployment or {}).get("environment")
        context = self.status_context(environment)
        try:
            canary = self.release.start_canary(body)
        except ApiFailure as exc:
            reporter.commit_status("failure", f"canary not started: {exc.message}", context)
            raise
        self.outputs(canary_id=canary["id"], deployment_id=deployment_id)
        environment = canary.get("environment") or environment or "production"
        context = self.status_context(environment)
        started = f"canary of {canary['canary_revision']} started ({canary.get('strategy')})"
        self.workflow.say(
            f"deployq: {started}: canary {canary['id']}, stable {canary.get('stable_revision')}, "
            f"steps {canary.get('steps')} of {canary.get('step_minutes')} min"
        )
        reporter.commit_status("pending", started, context)
        reporter.start_deployment(
            environment,
            started,
            {"deployq_canary_id": canary["id"], "deployq_deployment_id": deployment_id},
        )
        timeout = self.inputs.number("timeout-minutes")
        try:
            final = self.release.follow_canary(
                canary["id"],
                interval=self.inputs.number("poll-seconds", 10.0) or 10.0,
                timeout=timeout * 60 if timeout else canary_timeout_seconds(canary),
            )
        except ReleaseFailed as exc:
            self.workflow.summary(canary_summary(exc.record or canary, deployment_id))
            reporter.commit_status("failure", exc.reason, context)
            reporter.deployment_status("failure", exc.reason)
            raise
        except CliError as exc:  # deployq unreachable or refusing: the outcome is unknown
            reporter.commit_status(
                "error", f"canary not followed: {one_line(exc.message)}", context
            )
            reporter.deployment_status("error", f"canary not followed: {one_line(exc.message)}")
            raise
        status, reason = final.get("status"), one_line(final.get("reason")) or final.get("status")
        self.outputs(status=status, reason=reason)
        self.workflow.summary(canary_summary(final, deployment_id))
        if status == "promoted":
            reporter.commit_status("success", f"promoted: {reason}", context)
            reporter.deployment_status("success", f"promoted: {reason}")
            self.workflow.say(f"deployq: canary {final['id']} promoted: {reason}")
            return 0
        assert status in CANARY_FINAL
        reporter.commit_status("failure", f"{status}: {reason}", context)
        reporter.deployment_status("failure", f"{status}: {reason}")
        raise ReleaseFailed(f"canary {status}: {reason}", status, final)


def main(
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the command the inputs name; the exit code of the step."""
    env = os.environ if env is None else env
    action = Action(env, stdout or sys.stdout, sleep=sleep)
    workflow = action.workflow
    try:
        return action.run()
    except ReleaseFailed as exc:
        if exc.status:
            action.outputs(status=exc.status)
        action.outputs(reason=exc.reason)
        workflow.error(exc.reason)
    except ApiFailure as exc:
        workflow.say(f"deployq answered HTTP {exc.status}:")
        workflow.say(json.dumps(exc.body, indent=2) if exc.body is not None else exc.message)
        action.outputs(reason=one_line(exc.message))
        workflow.error(
            f"deployq answered HTTP {exc.status}"
            + (f" ({exc.code})" if exc.code else "")
            + f": {one_line(exc.message)}"
        )
    except CliError as exc:
        workflow.error(one_line(exc.message))
    return 1
