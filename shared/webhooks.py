"""Outgoing webhooks: which URLs may be called, how they are called and logged, and Slack
text that cannot ping or link.

An incoming-webhook URL is a credential (its path is the secret), so it is https only
(plain http only to a loopback address, and only outside Cloud Run), redirects are never
followed (a 3xx is a failure: the secret would otherwise be replayed to wherever it
points), and logs name only its scheme and host.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

import requests

from shared import logs

TIMEOUT_SECONDS = 5
log = logs.get("notify")


def on_cloud_run() -> bool:
    return bool(os.environ.get("K_SERVICE"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, local: bool | None = None) -> str | None:
    """Why `url` may not be a webhook, or None when it may."""
    local = not on_cloud_run() if local is None else local
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if not host:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry credentials before the host"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "must not contain spaces or control characters"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and local and _loopback(host):
        return None
    if parts.scheme == "http":
        return "must use https (plain http is accepted only for a loopback address in local runs)"
    return "must be an https URL"


def redacted(url: str) -> str:
    """The URL as logs may show it: scheme and host, never the (secret) path or query."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}/..."
    except ValueError:
        return "<invalid url>"


def slack_text(text: str) -> str:
    """`text` with Slack's control characters escaped: `<!channel>`, `<@U123>`, `<url|label>`
    and `&` entities arrive as the characters that were written, not as mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_json(url: str, payload: dict, session: requests.Session | None = None) -> bool:
    """POST `payload`; failures (refused URL, network, non-2xx, any redirect) are logged with
    the redacted URL and answered False, never raised."""
    problem = url_problem(url)
    if problem:
        log.warning("notification webhook %s refused: it %s", redacted(url), problem)
        return False
    try:
        response = (session or requests).post(
            url, json=payload, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as exc:
        log.warning("notification webhook %s unreachable: %s", redacted(url), type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("notification webhook %s answered %s", redacted(url), response.status_code)
        return False
    return True
