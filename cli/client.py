"""HTTP client of one deployq function: auth headers, retries of retry-safe calls, JSON errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from cli import __version__
from cli.auth import Credentials
from cli.errors import ApiFailure, CliError
from cli.transport import check_token_url

RETRY_STATUSES = (429, 502, 503, 504)
SAFE_METHODS = ("GET", "HEAD", "PUT", "DELETE", "PATCH")


class Client:
    """Calls one function's base URL (e.g. the deployments function) as the caller."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 60,
        attempts: int = 4,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.session = session or requests.Session()
        self.sleep = sleep

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; a 4xx/5xx answer raises ApiFailure with the API's error sentence.

        Connection errors, 429/502/503/504 and 409 `concurrent_update` are retried with
        backoff when the call is safe to repeat (GET/PUT/PATCH/DELETE, or an Idempotency-Key).
        """
        method = method.upper()
        url = f"{self.base_url}{path}"
        all_headers = {"User-Agent": f"deployq-cli/{__version__}", "Accept": "application/json"}
        all_headers.update(headers or {})
        if content_type:
            all_headers["Content-Type"] = content_type
        if retry is None:
            retry = method in SAFE_METHODS or "Idempotency-Key" in all_headers
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            if getattr(self.credentials, "source", None) != "none":
                check_token_url(url)  # before a token is even fetched
            auth = self.credentials.headers(self.base_url)
            try:
                response = self.session.request(
                    method,
                    url,
                    params=query,
                    json=json,
                    data=data,
                    headers={**all_headers, **auth},
                    timeout=self.timeout,
                    stream=stream,
                )
            except requests.RequestException as exc:
                if attempt < attempts:
                    self._backoff(attempt)
                    continue
                raise CliError(f"cannot reach {self.base_url}: {_short(exc)}") from None
            if response.status_code < 400:
                return response
            failure = failure_of(response)
            retryable = (
                response.status_code in RETRY_STATUSES or failure.code == "concurrent_update"
            )
            if retryable and attempt < attempts:
                self._backoff(attempt, response.headers.get("Retry-After"))
                continue
            raise failure
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` and return the decoded JSON answer (None for an empty answer)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{method} {path} answered HTTP {response.status_code} with a body that is not JSON"
            ) from None

    def _backoff(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
        if retry_after and retry_after.isdigit():
            delay = min(30.0, float(retry_after))
        self.sleep(delay)


def discover(deployments_url: str, *, timeout: float = 10) -> dict[str, str]:
    """The URLs `GET /v1/discovery` names (no token needed); {} when it cannot answer."""
    if not deployments_url.startswith(("http://", "https://")):
        return {}
    try:
        response = requests.get(
            f"{deployments_url.rstrip('/')}/v1/discovery",
            headers={"User-Agent": f"deployq-cli/{__version__}", "Accept": "application/json"},
            timeout=timeout,
        )
        body = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {
        part: url.rstrip("/")
        for part, url in body.items()
        if isinstance(url, str) and url.startswith(("http://", "https://"))
    }


def failure_of(response: requests.Response) -> ApiFailure:
    """The ApiFailure of an error answer, from its `{"error", "code", "details"}` body if any."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        details = body.get("details")
        return ApiFailure(
            response.status_code,
            body["error"],
            body.get("code"),
            details if isinstance(details, list) else [],
            body,
        )
    text = (response.text or "").strip().splitlines()
    message = text[0][:200] if text else (response.reason or "error")
    return ApiFailure(response.status_code, message, None, [], body)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "..."
