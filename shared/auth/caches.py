"""What the authenticator keeps between requests: Google's signing certificates, verified
GitHub PATs and verified JWTs, each bounded in time and size."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import requests

from shared.errors import ServiceUnavailable
from shared.models.principal import Principal
from shared.refusals import unreachable

PAT_CACHE_SECONDS = 300
CLOCK_SKEW_SECONDS = 10
# A verified JWT is kept until it expires (at most this long): a signature check per
# request was a third of a create's CPU; a token that fails is checked again every time.
TOKEN_CACHE_SECONDS = 300


class GoogleCerts:
    """Google's signing certificates (`{kid: PEM}`), cached per Cache-Control.

    An unknown kid refetches them, at most once a minute.
    """

    def __init__(self, url: str, session: requests.Session, min_refetch_seconds: float = 60):
        self.url = url
        self.session = session
        self.min_refetch_seconds = min_refetch_seconds
        self._certs: dict[str, str] = {}
        self._expires = 0.0
        self._fetched = 0.0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        try:
            response = self.session.get(self.url, timeout=10)
            response.raise_for_status()
            certs = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ServiceUnavailable(unreachable("Google's signing certificates", exc)) from None
        if not isinstance(certs, dict):
            raise ServiceUnavailable("Google signing certificates are not a JSON object")
        max_age = 3600
        match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
        if match:
            max_age = int(match.group(1))
        now = time.monotonic()
        self._certs, self._expires, self._fetched = certs, now + max_age, now

    def get(self, kid: str | None) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            stale = now >= self._expires
            unknown = kid is not None and kid not in self._certs
            if stale or (unknown and now - self._fetched >= self.min_refetch_seconds):
                self._fetch()
            return dict(self._certs)


class PatCache:
    """Verified PAT principals by (token hash, org), kept for 5 minutes, bounded in size."""

    def __init__(self, ttl: float = PAT_CACHE_SECONDS, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return item[1]

    def put(self, key: str, principal: Principal) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, principal)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class VerifiedTokens:
    """Verified JWTs by hash: (issuer, what verification returned), until the token's `exp`
    (at most TOKEN_CACHE_SECONDS), bounded in size."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._items: OrderedDict[bytes, tuple[float, str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> tuple[str, Any] | None:
        """(issuer, verified result) of a token verified before and not yet expired."""
        key = self._key(token)
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.time():
                del self._items[key]
                return None
            return item[1], item[2]

    def put(self, token: str, issuer: str, exp: Any, result: Any) -> None:
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return
        until = min(float(exp) + CLOCK_SKEW_SECONDS, time.time() + TOKEN_CACHE_SECONDS)
        with self._lock:
            self._items[self._key(token)] = (until, issuer, result)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
