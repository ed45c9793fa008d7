"""Who is calling: GitHub OIDC JWTs, Google ID tokens, GitHub PATs and internal callers.

`Authenticator.authenticate` resolves a request's headers to a `Principal` or
raises Unauthorized (401: no or invalid token), Forbidden (403: valid but not
allowed) or BadRequest (400: a required header is missing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import jwt
import requests

from shared.auth.caches import CLOCK_SKEW_SECONDS, GoogleCerts, PatCache, VerifiedTokens
from shared.config import Settings
from shared.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized
from shared.lazy import Lazy
from shared.models.ids import ORG_NAME
from shared.models.principal import Principal
from shared.refusals import unreachable

if TYPE_CHECKING:
    from shared.organisations.service import OrganisationService

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def process_organisations(settings: Settings) -> OrganisationService:
    """The process's organisation service (its module loads on the first request)."""
    from shared.organisations.service import organisations_for

    return organisations_for(settings)


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token in the Authorization header")
    return token.strip()


def organisation_header(headers: Mapping[str, str]) -> str:
    """The tenant named by `X-Organisation`, lower-cased; 400 naming the header if absent or bad."""
    value = (headers.get("X-Organisation") or "").strip()
    if not value:
        raise BadRequest(
            "the X-Organisation header is required with this kind of credential",
            code="missing_header",
            details=[{"field": "X-Organisation", "error": "required"}],
        )
    if not ORG_NAME.match(value):
        raise BadRequest(
            "X-Organisation is not a valid organisation name",
            details=[{"field": "X-Organisation", "error": "invalid organisation name"}],
        )
    return value.lower()


class Authenticator:
    """Verifies every kind of credential deployq accepts, configured from Settings."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        organisations: OrganisationService | None = None,
    ):
        self.settings = settings
        self.session = session or requests.Session()
        self._organisations = Lazy(lambda: organisations or process_organisations(settings))
        self._jwks = jwt.PyJWKClient(
            settings.github_oidc_jwks_url,
            cache_keys=False,
            lifespan=3600,
            timeout=10,
            cooldown_duration=60,
        )
        self._google_certs = GoogleCerts(settings.google_certs_url, self.session)
        self._pats = PatCache()
        self._tokens = VerifiedTokens()

    # -- entry points -------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The tenant principal of a request (any caller kind but internal)."""
        if not self.settings.auth_enabled:
            org = organisation_header(headers)
            self._check_allowed(org)
            actor = (headers.get("X-Actor") or "local-developer").strip()[:200]
            return Principal("local", actor, org, "admin", actor=actor)
        token = bearer_token(headers)
        if token.count(".") == 2:
            issuer = self._unverified_issuer(token)
            if issuer.rstrip("/") == self.settings.github_oidc_issuer:
                principal, verified = self.verify_github_oidc_claims(token)
                self._check_allowed(principal.organisation)
                return self.github_oidc_principal(principal, verified)
            if issuer in GOOGLE_ISSUERS:
                org = organisation_header(headers)
                self._check_allowed(org)
                return self.google_principal(self.verify_google(token), headers)
            raise Unauthorized("token issuer is not trusted")
        org = organisation_header(headers)
        principal = self.verify_github_pat(token, org)
        self._check_allowed(principal.organisation)
        return self.member_principal(principal, login=principal.actor)

    def authenticate_platform(self, headers: Mapping[str, str]) -> Principal:
        """A platform admin: a Google identity whose email is in PLATFORM_ADMINS; else 403."""
        if not self.settings.auth_enabled:
            actor = (headers.get("X-Actor") or "local-developer").strip()[:200]
            return Principal("local", actor, None, "admin", actor=actor)
        token = bearer_token(headers)
        refusal = Forbidden(
            "only platform admins (PLATFORM_ADMINS, with a Google identity) manage "
            "organisation records",
            code="not_platform_admin",
        )
        if token.count(".") != 2:
            raise refusal
        issuer = self._unverified_issuer(token)
        if issuer.rstrip("/") == self.settings.github_oidc_issuer:
            self.verify_github_oidc_claims(token)
            raise refusal
        if issuer not in GOOGLE_ISSUERS:
            raise Unauthorized("token issuer is not trusted")
        verified = self.verify_google(token)
        email = str(verified.get("email", "")).lower()
        if email not in self.settings.platform_admins:
            raise refusal
        return Principal(
            "google",
            str(verified.get("sub", email)),
            None,
            "admin",
            actor=email,
        )

    @property
    def organisations(self) -> OrganisationService:
        """The organisation records (the process's service unless one was given)."""
        return self._organisations()

    def member_principal(
        self, principal: Principal, *, email: str | None = None, login: str | None = None
    ) -> Principal:
        """The principal with the role and person of its member entry (role kept otherwise)."""
        role, member = self.organisations.role_of_member(
            principal.organisation, email=email, login=login
        )
        if member is None:
            return principal
        return replace(principal, role=role, person=member)

    def github_oidc_principal(self, principal: Principal, claims: dict[str, Any]) -> Principal:
        """A verified workflow token's role from its organisation's GitHub trust (pinned owner
        id, rules); its person is the member whose github_login is the `actor` claim."""
        role = self.organisations.github_oidc_role(principal.organisation, claims, principal)
        _, member = self.organisations.role_of_member(principal.organisation, login=principal.actor)
        return replace(principal, role=role, person=member)

    def authenticate_internal(self, headers: Mapping[str, str]) -> Principal:
        """An internal caller: a Google ID token whose email is in INTERNAL_SERVICE_ACCOUNTS."""
        if not self.settings.auth_enabled:
            return Principal("internal", "local", None, "admin", actor="local")
        token = bearer_token(headers)
        if token.count(".") != 2:
            raise Unauthorized("internal endpoints need a Google-signed ID token")
        issuer = self._unverified_issuer(token)
        if issuer not in GOOGLE_ISSUERS:
            if issuer.rstrip("/") == self.settings.github_oidc_issuer:
                self.verify_github_oidc(token)
                raise Forbidden("internal endpoints accept only deployq's service accounts")
            raise Unauthorized("token issuer is not trusted")
        verified = self.verify_google(token)
        email = str(verified.get("email", "")).lower()
        if email not in self.settings.internal_service_accounts:
            raise Forbidden("internal endpoints accept only deployq's service accounts")
        return Principal("internal", email, None, "admin", actor=email)

    # -- verifiers ----------------------------------------------------------------

    @staticmethod
    def _unverified_claims(token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        if not isinstance(claims, dict):
            raise Unauthorized("malformed token")
        return claims

    def _unverified_issuer(self, token: str) -> str:
        known = self._tokens.get(token)
        if known is not None:
            return known[0]
        issuer = self._unverified_claims(token).get("iss")
        if not isinstance(issuer, str):
            raise Unauthorized("token issuer is missing or not a text")
        return issuer

    def verify_github_oidc(self, token: str) -> Principal:
        """A GitHub Actions OIDC JWT: RS256 from the JWKS, iss, aud, exp, nbf checked."""
        return self.verify_github_oidc_claims(token)[0]

    def verify_github_oidc_claims(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """The principal of a verified GitHub OIDC JWT (role deployer) and its claims."""
        known = self._tokens.get(token)
        if known is not None and isinstance(known[1], tuple):
            principal, claims = known[1]
            return principal, dict(claims)
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailable(unreachable("GitHub's OIDC signing keys", exc)) from None
        except jwt.PyJWTError:
            raise Unauthorized("token signing key is unknown") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.settings.github_oidc_audience,
                issuer=self.settings.github_oidc_issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={
                    "require": ["exp", "iss", "aud", "repository_owner", "repository_owner_id"]
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(token_refusal(exc)) from None
        owner = claims["repository_owner"]
        if not isinstance(owner, str) or not ORG_NAME.match(owner.lower()):
            raise Unauthorized("token repository_owner is not an organisation name")
        owner_id = claims["repository_owner_id"]
        if isinstance(owner_id, bool) or not str(owner_id).isdigit():
            raise Unauthorized("token repository_owner_id is not a GitHub id")
        claims["repository_owner_id"] = str(owner_id)
        principal = Principal(
            kind="github_oidc",
            subject=str(claims.get("sub", "")),
            organisation=owner.lower(),
            role="deployer",
            repository=_text(claims.get("repository")),
            workflow=_text(claims.get("workflow")),
            actor=_text(claims.get("actor")),
        )
        self._tokens.put(token, claims["iss"], claims["exp"], (principal, dict(claims)))
        return principal, claims

    def verify_google(self, token: str) -> dict[str, Any]:
        """A Google-signed ID token (gcloud users, service accounts) for one of our audiences."""
        from google.auth import exceptions as google_exceptions
        from google.auth import jwt as google_jwt

        known = self._tokens.get(token)
        if known is not None and isinstance(known[1], dict):
            return dict(known[1])
        if not self.settings.google_id_token_audiences:
            raise Unauthorized(
                "Google ID tokens are not accepted: GOOGLE_ID_TOKEN_AUDIENCES is empty"
            )
        try:
            kid = _text(jwt.get_unverified_header(token).get("kid"))
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        certs = self._google_certs.get(kid)
        try:
            claims = google_jwt.decode(
                token,
                certs=certs,
                audience=list(self.settings.google_id_token_audiences),
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except (ValueError, google_exceptions.GoogleAuthError) as exc:
            raise Unauthorized(google_token_refusal(exc)) from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthorized("token issuer is not Google")
        if not claims.get("email") or claims.get("email_verified") is not True:
            raise Unauthorized("Google ID token carries no verified email")
        self._tokens.put(token, claims["iss"], claims.get("exp"), dict(claims))
        return claims

    def google_principal(self, claims: Mapping[str, Any], headers: Mapping[str, str]) -> Principal:
        """Role from the organisation record's members, else ORG_ACCESS (bootstrap), else 403."""
        org = organisation_header(headers)
        email = str(claims["email"]).lower()
        role, member = self.organisations.role_of_member(org, email=email)
        if role is None:
            role = self.settings.org_access.get(org, {}).get(email)
        if role is None:
            raise Forbidden(f"{email} has no access to organisation {org}")
        return Principal(
            "google", str(claims.get("sub", email)), org, role, actor=email, person=member
        )

    def verify_github_pat(self, token: str, org: str) -> Principal:
        """A GitHub PAT: the token's user must be an active member of `org` (cached 5 minutes).

        The role is `deployer`; `member_principal` applies the organisation record's."""
        key = hashlib.sha256(f"{token}\0{org}".encode()).hexdigest()
        cached = self._pats.get(key)
        if cached is not None:
            return cached
        user = self._github("/user", token)
        if user.status_code in (401, 403):
            raise Unauthorized("GitHub rejected the token")
        login = self._github_json(user).get("login")
        if user.status_code != 200 or not login:
            raise ServiceUnavailable(f"GitHub answered {user.status_code} for /user")
        membership = self._github(f"/user/memberships/orgs/{org}", token)
        if membership.status_code in (403, 404):
            raise Forbidden(f"{login} is not a member of {org}")
        if membership.status_code != 200:
            raise ServiceUnavailable(f"GitHub answered {membership.status_code} for the membership")
        if self._github_json(membership).get("state") != "active":
            raise Forbidden(f"{login}'s membership of {org} is not active")
        principal = Principal("github_pat", str(login), org, "deployer", actor=str(login))
        self._pats.put(key, principal)
        return principal

    def _github(self, path: str, token: str) -> requests.Response:
        try:
            return self.session.get(
                f"{self.settings.github_api_url}{path}",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
                timeout=10,
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(unreachable("the GitHub API", exc)) from None

    @staticmethod
    def _github_json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _check_allowed(self, org: str | None) -> None:
        allowed = self.settings.allowed_organisations
        if allowed and org not in allowed:
            raise Forbidden(f"organisation {org} is not allowed on this deployq")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_JWT_REFUSALS = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token audience is not accepted"),
    (jwt.InvalidIssuerError, "token issuer is not trusted"),
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm is not accepted"),
)


def token_refusal(exc: jwt.PyJWTError) -> str:
    """Why a GitHub OIDC token is refused, by the kind of error, never its text."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"token lacks the {exc.claim} claim"
    for kind, reason in _JWT_REFUSALS:
        if isinstance(exc, kind):
            return reason
    return "invalid token"


_GOOGLE_REFUSALS = (
    ("expired", "token has expired"),
    ("too early", "token is not valid yet"),
    ("audience", "token audience is not accepted"),
    ("signature", "token signature is invalid"),
    ("issuer", "token issuer is not trusted"),
    ("certificate for key id", "token signing key is unknown"),
)


def google_token_refusal(exc: Exception) -> str:
    """Why a Google ID token is refused; google-auth's text (with the audiences and keys this
    deployment accepts) is not repeated."""
    text = str(exc).lower()
    for words, reason in _GOOGLE_REFUSALS:
        if words in text:
            return reason
    return "invalid token"
