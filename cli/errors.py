"""Failures of the CLI and the exit code each one ends the process with.

Exit codes scripts can rely on: 0 success; 1 failure (an API or network error,
a breaking OpenAPI change, a canary rolled back, a job that failed); 2 usage
error (bad arguments, or a request the API rejected as invalid: 400/413/415);
3 authentication or permission error (401/403, no credentials found);
4 not found (404); 5 conflict (409: illegal transition, approval required,
already in progress).
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5


class CliError(Exception):
    """An error the CLI reports in one line and turns into an exit code."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    exit_code = EXIT_USAGE


class AuthError(CliError):
    exit_code = EXIT_AUTH


def exit_code_for_status(status: int) -> int:
    """The exit code of an HTTP error status."""
    if status in (400, 413, 415, 422):
        return EXIT_USAGE
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 409:
        return EXIT_CONFLICT
    return EXIT_FAILURE


class ApiFailure(CliError):
    """An error answer of the API: its status and its `{"error", "code", "details"}` body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: list[Any] | None = None,
        body: Any = None,
    ):
        super().__init__(message, exit_code_for_status(status))
        self.status = status
        self.code = code
        self.details = details or []
        self.body = body

    def lines(self) -> list[str]:
        """The error as a person reads it: one sentence, then one line per detail."""
        label = f"{self.code}, HTTP {self.status}" if self.code else f"HTTP {self.status}"
        lines = [f"{self.message} ({label})"]
        for detail in self.details:
            if isinstance(detail, dict) and "field" in detail:
                lines.append(f"  - {detail['field']}: {detail.get('error', '')}")
            else:
                lines.append(f"  - {detail}")
        return lines
