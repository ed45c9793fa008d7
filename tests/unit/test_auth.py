"""The production verifiers against tokens minted with test keys and served from a local server."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from shared.auth import Authenticator
from shared.config import Settings
from shared.errors import BadRequest, Forbidden, Unauthorized
from tests.support.identity import TestKey
from tests.support.organisations import memory_organisations

AUD = "http://deployq.test"
INTERNAL = "tasks@deployq.iam.gserviceaccount.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, claims: dict, secret: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b""
    if secret is not None:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def settings(identity):
    env = {
        **identity.env(AUD),
        "ORG_ACCESS": '{"acme": {"ann@example.com": "approver", "vic@example.com": "viewer"}}',
        "INTERNAL_SERVICE_ACCOUNTS": INTERNAL,
    }
    return Settings.from_env(env)


@pytest.fixture
def auth(settings):
    return Authenticator(settings, organisations=memory_organisations(settings))


def bearer(token, org=None):
    headers = {"Authorization": f"Bearer {token}"}
    if org:
        headers["X-Organisation"] = org
    return headers


def github_claims(identity, **overrides):
    now = int(time.time())
    claims = {
        "iss": identity.github_issuer,
        "aud": "deployment-queue-api",
        "repository_owner": "acme",
        "sub": "repo:acme/app",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return claims


# -- GitHub OIDC --------------------------------------------------------------------------


def test_github_oidc_principal_comes_from_the_claims(auth, identity):
    token = identity.github_token("Acme", actor="octocat", repository="Acme/app", workflow="ci")
    principal = auth.authenticate(bearer(token, org="someone-else"))
    assert principal.kind == "github_oidc"
    assert principal.organisation == "acme"  # from the token, never from a header
    assert principal.role == "deployer"
    assert (principal.repository, principal.workflow, principal.actor) == (
        "Acme/app",
        "ci",
        "octocat",
    )


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"repository_owner": None}, "repository_owner"),
    ],
)
def test_github_oidc_rejects_bad_claims(auth, identity, overrides, reason):
    token = identity.github_token("acme", **overrides)
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(bearer(token))
    assert reason in caught.value.message.lower()


def test_github_oidc_rejects_wrong_issuer(auth, identity):
    token = identity.github_key.sign(github_claims(identity, iss="https://evil.example.com"))
    with pytest.raises(Unauthorized, match="issuer"):
        auth.authenticate(bearer(token))


def test_github_oidc_rejects_alg_none_and_hs256_with_the_public_key(auth, identity):
    claims = github_claims(identity)
    none_token = forge({"alg": "none", "typ": "JWT", "kid": "gh-1"}, claims, None)
    hs_token = forge(
        {"alg": "HS256", "typ": "JWT", "kid": "gh-1"}, claims, identity.github_key.public_pem
    )
    for token in (none_token, hs_token):
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(token))


def test_github_oidc_rejects_a_token_signed_by_another_key_with_the_same_kid(auth, identity):
    impostor = TestKey("gh-1")
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(identity.github_token("acme", key=impostor)))


def test_github_jwks_is_cached_and_unknown_kids_refetch_at_most_once_a_minute(auth, identity):
    before = identity.requests.count("/github/.well-known/jwks")
    for _ in range(5):
        auth.authenticate(bearer(identity.github_token("acme")))
    assert identity.requests.count("/github/.well-known/jwks") - before == 1
    stranger = TestKey("unknown-kid")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(identity.github_token("acme", key=stranger)))
    assert identity.requests.count("/github/.well-known/jwks") - before <= 2


# -- Google ID tokens ---------------------------------------------------------------------


def test_google_identity_gets_its_role_from_org_access(auth, identity):
    principal = auth.authenticate(bearer(identity.google_token("Ann@example.com", AUD), "ACME"))
    assert (principal.kind, principal.organisation, principal.role) == (
        "google",
        "acme",
        "approver",
    )
    assert principal.actor == "ann@example.com"


def test_google_identity_needs_the_organisation_header(auth, identity):
    with pytest.raises(BadRequest) as caught:
        auth.authenticate(bearer(identity.google_token("ann@example.com", AUD)))
    assert caught.value.details[0]["field"] == "X-Organisation"


def test_google_identity_not_listed_is_forbidden(auth, identity):
    with pytest.raises(Forbidden):
        auth.authenticate(bearer(identity.google_token("eve@example.com", AUD), "acme"))
    with pytest.raises(Forbidden):
        auth.authenticate(bearer(identity.google_token("ann@example.com", AUD), "globex"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://other.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"email_verified": False},
        {"iss": "https://evil.example.com"},
    ],
)
def test_google_identity_rejects_bad_claims(auth, identity, overrides):
    token = identity.google_token("ann@example.com", AUD, **overrides)
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(token, "acme"))


def test_google_identity_rejects_forged_algorithms_and_foreign_keys(auth, identity):
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": AUD,
        "email": "ann@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
    }
    tokens = [
        forge({"alg": "none", "kid": "goog-1"}, claims, None),
        forge({"alg": "HS256", "kid": "goog-1"}, claims, identity.google_key.cert_pem.encode()),
        identity.google_token("ann@example.com", AUD, key=TestKey("goog-1")),
    ]
    for token in tokens:
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(token, "acme"))


# -- GitHub PATs --------------------------------------------------------------------------


def test_pat_member_is_a_deployer_and_membership_is_cached(auth, identity):
    identity.add_pat("ghp_member", "mona", {"acme": "active"})
    before = len(identity.requests)
    principal = auth.authenticate(bearer("ghp_member", "Acme"))
    assert (principal.kind, principal.organisation, principal.role, principal.actor) == (
        "github_pat",
        "acme",
        "deployer",
        "mona",
    )
    auth.authenticate(bearer("ghp_member", "acme"))
    assert len(identity.requests) - before == 2  # /user + membership, once


def test_pat_errors(auth, identity):
    identity.add_pat("ghp_pending", "pete", {"acme": "pending"})
    identity.add_pat("ghp_outsider", "olga", {})
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer("ghp_unknown", "acme"))
    with pytest.raises(Forbidden):
        auth.authenticate(bearer("ghp_outsider", "acme"))
    with pytest.raises(Forbidden):
        auth.authenticate(bearer("ghp_pending", "acme"))
    with pytest.raises(BadRequest):
        auth.authenticate(bearer("ghp_outsider"))
    with pytest.raises(BadRequest):
        auth.authenticate(bearer("ghp_outsider", "not an org!"))


def test_missing_or_malformed_authorization_is_401(auth):
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer a.b.c"},
    ):
        with pytest.raises(Unauthorized):
            auth.authenticate(headers)


def test_allowed_organisations(identity):
    settings = Settings.from_env({**identity.env(AUD), "ALLOWED_ORGANISATIONS": "globex"})
    organisations = memory_organisations(settings)
    auth = Authenticator(settings, organisations=organisations)
    with pytest.raises(Forbidden):
        auth.authenticate(bearer(identity.github_token("acme")))
    assert organisations.store.records.get("acme") is None  # refused before any pinning
    assert auth.authenticate(bearer(identity.github_token("Globex"))).organisation == "globex"


# -- internal callers ---------------------------------------------------------------------


def test_internal_callers(auth, identity):
    principal = auth.authenticate_internal(bearer(identity.google_token(INTERNAL, AUD)))
    assert principal.kind == "internal"
    with pytest.raises(Forbidden):
        auth.authenticate_internal(bearer(identity.google_token("ann@example.com", AUD)))
    with pytest.raises(Forbidden):
        auth.authenticate_internal(bearer(identity.github_token("acme")))
    with pytest.raises(Unauthorized):
        auth.authenticate_internal(bearer("ghp_member"))
    with pytest.raises(Unauthorized):
        auth.authenticate_internal({})
    with pytest.raises(Unauthorized):
        auth.authenticate_internal(bearer(identity.google_token(INTERNAL, "https://elsewhere")))


def test_auth_disabled_is_local_admin_of_the_named_org():
    auth = Authenticator(Settings.from_env({"AUTH_ENABLED": "false"}))
    principal = auth.authenticate({"X-Organisation": "Acme"})
    assert (principal.organisation, principal.role) == ("acme", "admin")
    with pytest.raises(BadRequest):
        auth.authenticate({})


# -- organisation records -----------------------------------------------------------------


def test_members_give_google_identities_and_logins_their_role(settings, identity):
    record = {
        "members": [
            {"email": "ann@example.com", "github_login": "ann-gh", "role": "admin"},
            {"email": "new@example.com", "role": "viewer"},
        ]
    }
    auth = Authenticator(settings, organisations=memory_organisations(settings, {"acme": record}))
    ann = auth.authenticate(bearer(identity.google_token("ann@example.com", AUD), "acme"))
    assert ann.role == "admin" and ann.person["github_login"] == "ann-gh"
    new = auth.authenticate(bearer(identity.google_token("new@example.com", AUD), "acme"))
    assert new.role == "viewer"
    # ORG_ACCESS still admits its people when the record does not list them.
    vic = auth.authenticate(bearer(identity.google_token("vic@example.com", AUD), "acme"))
    assert vic.role == "viewer" and vic.person is None


def test_platform_admins(identity):
    settings = Settings.from_env({**identity.env(AUD), "PLATFORM_ADMINS": "Root@example.com"})
    auth = Authenticator(settings, organisations=memory_organisations(settings))
    root = auth.authenticate_platform(bearer(identity.google_token("root@example.com", AUD)))
    assert root.organisation is None and root.actor == "root@example.com"
    for token in (
        identity.google_token("ann@example.com", AUD),
        identity.github_token("acme"),
        "ghp_member",
    ):
        with pytest.raises(Forbidden):
            auth.authenticate_platform(bearer(token))
    with pytest.raises(Unauthorized):
        auth.authenticate_platform({})
    local = Authenticator(Settings.from_env({"AUTH_ENABLED": "false"}))
    assert local.authenticate_platform({}).kind == "local"


def test_a_verified_token_is_checked_once_until_it_expires(auth, identity, monkeypatch):
    token = identity.github_token("acme", actor="octocat")
    first = auth.authenticate(bearer(token))
    checks, real_key = [], auth._jwks.get_signing_key_from_jwt
    monkeypatch.setattr(
        auth._jwks, "get_signing_key_from_jwt", lambda t: checks.append(t) or real_key(t)
    )
    again = auth.authenticate(bearer(token))
    assert again == first and checks == []  # no second signature check
    # Past its exp (and the leeway) the cache forgets it: the token is verified again.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    auth._unverified_issuer(token)
    assert auth._tokens.get(token) is None


def test_a_refused_token_is_not_remembered(auth, identity):
    token = identity.github_token("acme", aud="someone-else")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(token))
