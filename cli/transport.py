"""Where the CLI may send a credential: https, or plain http to this machine only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from cli.errors import UsageError


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token_url(url: str) -> None:
    """Raise UsageError unless a bearer token may be sent to `url`."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _loopback((parts.hostname or "").lower()):
        return
    raise UsageError(
        f"refusing to send a token over plain http to {parts.hostname or url}: use https "
        "(plain http is accepted for a loopback address only)"
    )
