"""Credentials without flags: GitHub Actions OIDC, a GitHub PAT, or a Google identity token.

The source is chosen from the environment (`select_source`), in this order:
`--token` when given; GitHub Actions' OIDC token when the workflow may request one
(`ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` are set);
`GITHUB_TOKEN` as a personal access token with `X-Organisation`; otherwise a
Google ID token (Application Default Credentials, else `gcloud auth
print-identity-token`) with `X-Organisation`. `--auth` / `DEPLOYQ_AUTH` forces one.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from cli.errors import AuthError, UsageError

MODES = ("auto", "github-actions", "github-pat", "google", "token", "none")
DEFAULT_OIDC_AUDIENCE = "deployment-queue-api"
REFRESH_MARGIN_SECONDS = 60


def select_source(
    env: Mapping[str, str], *, token: str | None = None, mode: str | None = None
) -> str:
    """Which credential source to use: token | github-actions | github-pat | google | none."""
    mode = (mode or env.get("DEPLOYQ_AUTH") or "auto").strip().lower()
    if mode not in MODES:
        raise UsageError(f"unknown auth mode {mode!r}; use one of {', '.join(MODES)}")
    if token or env.get("DEPLOYQ_TOKEN"):
        if mode not in ("auto", "token"):
            raise UsageError(f"--token cannot be combined with --auth {mode}")
        return "token"
    if mode == "token":
        raise UsageError("--auth token needs --token or DEPLOYQ_TOKEN")
    if mode != "auto":
        return mode
    if env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        return "github-actions"
    if env.get("GITHUB_TOKEN"):
        return "github-pat"
    return "google"


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (read, not verified: the server verifies), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        return None


def origin(url: str) -> str:
    """`https://host[:port]` of a URL: the audience Cloud Run and Cloud Functions expect."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Credentials:
    """Headers for each request; tokens are fetched once per audience and renewed before expiry."""

    def __init__(
        self,
        source: str,
        *,
        env: Mapping[str, str] | None = None,
        org: str | None = None,
        token: str | None = None,
        audience: str | None = None,
        session: requests.Session | None = None,
        run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
        which: Callable[[str], str | None] = shutil.which,
    ):
        self.source = source
        self.env = dict(os.environ if env is None else env)
        self.org = org or self.env.get("DEPLOYQ_ORG") or None
        self.token = token or self.env.get("DEPLOYQ_TOKEN") or None
        self.audience = audience or self.env.get("DEPLOYQ_AUDIENCE") or None
        self.session = session or requests.Session()
        self._run = run
        self._which = which
        # Platform-admin commands address organisations in the path, not with X-Organisation.
        self.org_required = True
        self._cache: dict[str, tuple[str, float | None]] = {}

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        org: str | None = None,
        token: str | None = None,
        mode: str | None = None,
        audience: str | None = None,
    ) -> Credentials:
        env = dict(os.environ if env is None else env)
        source = select_source(env, token=token, mode=mode)
        return cls(source, env=env, org=org, token=token, audience=audience)

    def headers(self, base_url: str) -> dict[str, str]:
        """The Authorization (and X-Organisation) headers for a call to `base_url`."""
        if self.source == "none":
            org = self._require_org("--auth none")
            return {"X-Organisation": org} if org else {}
        if self.source == "token":
            headers = {"Authorization": f"Bearer {self.token}"}
            if self.org:
                headers["X-Organisation"] = self.org
            return headers
        if self.source == "github-actions":
            return {"Authorization": f"Bearer {self._cached('actions', self._actions_token)}"}
        if self.source == "github-pat":
            org = self._require_org("a GitHub token")
            pat = self.env.get("GITHUB_TOKEN")
            if not pat:
                raise AuthError("--auth github-pat needs GITHUB_TOKEN in the environment")
            return {"Authorization": f"Bearer {pat}", "X-Organisation": org}
        if self.source == "google":
            org = self._require_org("a Google identity")
            audience = self.audience or origin(base_url)
            token = self._cached(f"google:{audience}", lambda: self._google_token(audience))
            headers = {"Authorization": f"Bearer {token}"}
            if org:
                headers["X-Organisation"] = org
            return headers
        raise UsageError(f"unknown credential source {self.source!r}")

    # -- sources ------------------------------------------------------------------

    def _require_org(self, what: str) -> str | None:
        if not self.org and self.org_required:
            raise UsageError(f"{what} needs an organisation: pass --org or set DEPLOYQ_ORG")
        return self.org

    def _cached(self, key: str, fetch: Callable[[], str]) -> str:
        cached = self._cache.get(key)
        if cached is not None:
            token, expiry = cached
            if expiry is None or expiry - time.time() > REFRESH_MARGIN_SECONDS:
                return token
        token = fetch()
        self._cache[key] = (token, token_expiry(token))
        return token

    def _actions_token(self) -> str:
        url = self.env["ACTIONS_ID_TOKEN_REQUEST_URL"]
        audience = self.audience or self.env.get("DEPLOYQ_OIDC_AUDIENCE") or DEFAULT_OIDC_AUDIENCE
        url += ("&" if "?" in url else "?") + f"audience={quote(audience, safe='')}"
        try:
            response = self.session.get(
                url,
                headers={"Authorization": f"bearer {self.env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
                timeout=30,
            )
        except requests.RequestException as exc:
            raise AuthError(f"cannot request the GitHub Actions OIDC token: {exc}") from None
        if response.status_code != 200:
            raise AuthError(
                f"GitHub refused the OIDC token request (HTTP {response.status_code}); "
                "does the job have `permissions: id-token: write`?"
            )
        value = _json(response).get("value")
        if not isinstance(value, str) or not value:
            raise AuthError("the GitHub Actions OIDC answer carries no token")
        return value

    def _google_token(self, audience: str) -> str:
        """Application Default Credentials when they can mint ID tokens, else gcloud."""
        adc_error = None
        if self.env.get("GOOGLE_APPLICATION_CREDENTIALS") or not self._which("gcloud"):
            try:
                return _adc_id_token(audience)
            except Exception as exc:  # noqa: BLE001 - every ADC failure falls back to gcloud
                adc_error = exc
        if self._which("gcloud"):
            return self._gcloud_token()
        raise AuthError(
            "no credentials found: set GITHUB_TOKEN with --org, run `gcloud auth login`, "
            f"or point GOOGLE_APPLICATION_CREDENTIALS at a service account key ({adc_error})"
        )

    def _gcloud_token(self) -> str:
        command = ["gcloud", "auth", "print-identity-token", "--quiet"]
        if self.audience:  # only service accounts may choose the audience
            command.append(f"--audiences={self.audience}")
        try:
            done = self._run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise AuthError(f"gcloud auth print-identity-token failed: {exc}") from None
        token = (done.stdout or "").strip()
        if done.returncode != 0 or not token:
            last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise AuthError(f"gcloud auth print-identity-token failed: {last[0]}")
        return token


def _adc_id_token(audience: str) -> str:
    import google.auth.transport.requests
    import google.oauth2.id_token

    return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
