"""Test identities: RS256 keys, a local JWKS / Google certs / GitHub API server, token minting.

The product verifies these with its production code; only the URLs differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

GITHUB_AUDIENCE = "deployment-queue-api"


def owner_id(owner: str) -> str:
    """A stable GitHub owner id (digits as text) for an owner name, as GitHub would send it."""
    return str(int(hashlib.sha256(owner.lower().encode()).hexdigest()[:12], 16))


class TestKey:
    __test__ = False  # not a test class
    """An RSA key with a kid, its JWK and a self-signed certificate (Google's certs format)."""

    def __init__(self, kid: str | None = None):
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deployq-test")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(self.private, hashes.SHA256())
        )
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims,
            self.private_pem,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )


class IdentityServer:
    """Serves `/.well-known/jwks` (GitHub), `/certs` (Google) and GitHub's `/user` + memberships."""

    def __init__(self):
        self.github_key = TestKey("gh-1")
        self.google_key = TestKey("goog-1")
        self.pats: dict[str, str] = {}  # token -> login
        self.memberships: dict[tuple[str, str], str] = {}  # (login, org) -> state
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                status, body = server.answer(self.path, self.headers.get("Authorization", ""))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # the issuer GitHub tokens carry in tests
    @property
    def github_issuer(self) -> str:
        return f"{self.url}/github"

    def answer(self, path: str, authorization: str) -> tuple[int, Any]:
        if path == "/github/.well-known/jwks":
            return 200, {"keys": [self.github_key.jwk()]}
        if path == "/certs":
            return 200, {self.google_key.kid: self.google_key.cert_pem}
        token = authorization.partition(" ")[2]
        login = self.pats.get(token)
        if path == "/api/user":
            return (
                (200, {"login": login, "id": 1}) if login else (401, {"message": "Bad credentials"})
            )
        if path.startswith("/api/user/memberships/orgs/"):
            if not login:
                return 401, {"message": "Bad credentials"}
            org = path.rsplit("/", 1)[1].lower()
            state = self.memberships.get((login, org))
            if state is None:
                return 404, {"message": "Not Found"}
            return 200, {"state": state, "role": "member", "organization": {"login": org}}
        return 404, {"message": "Not Found"}

    def env(self, audiences: str = "http://deployq.test") -> dict[str, str]:
        """The product's configuration pointing at this server."""
        return {
            "GITHUB_OIDC_ISSUER": self.github_issuer,
            "GITHUB_OIDC_JWKS_URL": f"{self.github_issuer}/.well-known/jwks",
            "GITHUB_OIDC_AUDIENCE": GITHUB_AUDIENCE,
            "GOOGLE_CERTS_URL": f"{self.url}/certs",
            "GOOGLE_ID_TOKEN_AUDIENCES": audiences,
            "GITHUB_API_URL": f"{self.url}/api",
        }

    def add_pat(self, token: str, login: str, orgs: dict[str, str] | None = None) -> None:
        self.pats[token] = login
        for org, state in (orgs or {}).items():
            self.memberships[(login, org.lower())] = state

    def github_token(self, owner: str = "acme", *, key: TestKey | None = None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.github_issuer,
            "aud": GITHUB_AUDIENCE,
            "sub": f"repo:{owner}/app:ref:refs/heads/main",
            "repository": f"{owner}/app",
            "repository_owner": owner,
            "repository_owner_id": owner_id(owner),
            "ref": "refs/heads/main",
            "workflow": "deploy",
            "actor": "octocat",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return (key or self.github_key).sign(claims)

    def google_token(
        self,
        email: str,
        audience: str = "http://deployq.test",
        *,
        key: TestKey | None = None,
        **overrides,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "sub": str(abs(hash(email))),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return (key or self.google_key).sign(claims)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
