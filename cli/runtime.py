"""What every command gets: arguments, output streams, credentials, per-function clients."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from cli import output
from cli.auth import Credentials
from cli.client import Client
from cli.errors import UsageError
from cli.terminal import SafeStream

# part -> (flag attribute, environment variable)
URLS = {
    "deployments": ("url", "DEPLOYQ_URL"),
    "packages": ("packages_url", "DEPLOYQ_PACKAGES_URL"),
    "canary": ("canary_url", "DEPLOYQ_CANARY_URL"),
}


class Runtime:
    """The context of one CLI invocation."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        env: Mapping[str, str] | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.args = args
        self.env = dict(os.environ if env is None else env)
        # Everything printed may hold server text: control sequences never reach the terminal.
        self.stdout = SafeStream(stdout or sys.stdout)
        self.stderr = SafeStream(stderr or sys.stderr)
        self.sleep = sleep
        self.clock = clock
        self._credentials: Credentials | None = None
        self._clients: dict[str, Client] = {}
        self._discovered: dict[str, str] | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = Credentials.from_env(
                self.env,
                org=getattr(self.args, "org", None),
                token=getattr(self.args, "token", None),
                mode=getattr(self.args, "auth", None),
                audience=getattr(self.args, "audience", None),
            )
            self._credentials.org_required = not getattr(self.args, "platform", False)
        return self._credentials

    def base_url(self, part: str) -> str:
        """The URL of a function: its flag, its variable, what the deployments function's
        discovery names, then DEPLOYQ_URL (one gateway for all)."""
        attribute, variable = URLS[part]
        url = getattr(self.args, attribute, None) or self.env.get(variable)
        if not url and part != "deployments":
            deployments = getattr(self.args, "url", None) or self.env.get("DEPLOYQ_URL")
            url = (self.discovery(deployments).get(part) if deployments else None) or deployments
        if not url:
            raise UsageError(
                f"no URL for the {part} function: pass --{attribute.replace('_', '-')} "
                f"or set {variable}"
            )
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{variable} must be an http(s) URL, got {url!r}")
        return url

    def discovery(self, deployments_url: str) -> dict[str, str]:
        """`GET /v1/discovery` of the deployments function, once; {} when it cannot answer."""
        if self._discovered is None:
            from cli.client import discover

            self._discovered = discover(deployments_url, timeout=10)
        return self._discovered

    def client(self, part: str) -> Client:
        if part not in self._clients:
            self._clients[part] = Client(
                self.base_url(part),
                self.credentials,
                timeout=float(getattr(self.args, "timeout", None) or 60),
                sleep=self.sleep,
            )
        return self._clients[part]

    # -- output -------------------------------------------------------------------

    def emit(self, data: Any, render: Callable[[Any], None] | None = None) -> None:
        """`--json`: the data as JSON on stdout; else `render(data)` for people."""
        if self.json or render is None:
            output.dump_json(data, self.stdout)
        else:
            render(data)

    def table(self, rows: list[dict[str, Any]], columns: list) -> None:
        output.table(rows, columns, self.stdout)

    def record(self, item: dict[str, Any], fields: list[str] | None = None) -> None:
        output.record(item, fields, self.stdout)

    def say(self, message: str) -> None:
        """A line for people on stdout (never in --json mode)."""
        if not self.json:
            self.stdout.write(message + "\n")

    def progress(self, message: str) -> None:
        """A progress line on stderr, so stdout stays clean for scripts."""
        if not getattr(self.args, "quiet", False):
            self.stderr.write(message + "\n")
            self.stderr.flush()
