"""RS256 signer for the OIDC tokens the Cloud Tasks fake attaches to deliveries."""

from __future__ import annotations

from collections.abc import Callable

import jwt


def rs256_signer(private_key_pem: bytes | str, kid: str | None = None) -> Callable[[dict], str]:
    """A signer(claims) -> compact JWT signed RS256 with the PEM key (header kid if given)."""
    headers = {"kid": kid} if kid else None

    def sign(claims: dict) -> str:
        return jwt.encode(claims, private_key_pem, algorithm="RS256", headers=headers)

    return sign
