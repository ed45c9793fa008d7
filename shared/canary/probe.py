"""The pre-traffic probe: GET <tag URL><path> of the new revision must answer 2xx in time."""

from __future__ import annotations

from typing import Any

from shared import logs
from shared.google.cloud_run import ServiceState

log = logs.get("canary")


class Probe:
    """HTTP GETs of a revision's tag URL, with a Google identity token on Cloud Run."""

    def __init__(self, http=None, identity_tokens: bool = False):
        self._http = http
        self.identity_tokens = identity_tokens

    def verify(self, state: ServiceState, tag: str, verify: dict[str, Any]) -> str | None:
        """None when GET <tag URL><path> answers 2xx in time, else the one-line reason."""
        import requests

        base = state.tag_urls.get(tag)
        if not base:
            return f"verification failed: Cloud Run reported no URL for tag {tag}"
        url = base.rstrip("/") + verify["path"]
        timeout = float(verify["timeout_seconds"])
        headers = {"User-Agent": "deployq-canary-verify"}
        token = self._identity_token(base)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = (self._http or requests).get(
                url, timeout=timeout, allow_redirects=False, headers=headers
            )
        except requests.Timeout:
            return f"verification failed: GET {url} timed out after {timeout:g} s"
        except requests.RequestException as exc:
            return f"verification failed: GET {url} could not connect: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        body = " ".join(response.text[:200].split())
        return f"verification failed: GET {url} answered HTTP {response.status_code}: {body}"

    def _identity_token(self, audience: str) -> str | None:
        if not self.identity_tokens:
            return None
        try:
            import google.auth.transport.requests
            from google.oauth2 import id_token

            return id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
        except Exception as exc:  # noqa: BLE001 - an unauthenticated GET is still a fair probe
            log.warning("no identity token for %s: %s", audience, exc)
            return None
