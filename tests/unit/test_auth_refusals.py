"""Refusals carry no internals: no backing service's text, no configured audience or URL,
and claims of the wrong type are a 401, never a 500."""

from __future__ import annotations

import json

import pytest
import requests
from google.api_core import exceptions as gexc

from shared.auth import Authenticator
from shared.config import Settings
from shared.errors import ServiceUnavailable, Unauthorized
from shared.web import map_google_error
from tests.unit.test_auth import AUD, INTERNAL, b64, bearer

SECRET = "hunter2-internal-path"


@pytest.fixture
def settings(identity):
    env = {
        **identity.env(AUD),
        "ORG_ACCESS": '{"acme": {"ann@example.com": "approver"}}',
        "INTERNAL_SERVICE_ACCOUNTS": INTERNAL,
    }
    return Settings.from_env(env)


def unsigned(claims: dict, header: dict | None = None) -> str:
    header = header or {"alg": "RS256", "kid": "k"}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(b'x')}"


@pytest.mark.parametrize("issuer", [42, ["https://accounts.google.com"], {"a": 1}, None, True])
def test_an_issuer_that_is_not_text_is_401(settings, issuer):
    auth = Authenticator(settings)
    token = unsigned({"iss": issuer, "aud": AUD})
    for call in (auth.authenticate, auth.authenticate_internal):
        with pytest.raises(Unauthorized) as caught:
            call(bearer(token, "acme"))
        assert "issuer" in caught.value.message


@pytest.mark.parametrize("kid", [["goog-1"], {"a": 1}, 7])
def test_a_google_token_whose_kid_is_not_text_is_401(settings, identity, kid):
    token = identity.google_token("ann@example.com", AUD)
    header, rest = token.split(".", 1)
    token = b64(json.dumps({"alg": "RS256", "kid": kid}).encode()) + "." + rest
    with pytest.raises(Unauthorized):
        Authenticator(settings).authenticate(bearer(token, "acme"))


def test_a_github_token_whose_owner_is_not_text_is_401(settings, identity):
    token = identity.github_token("acme", repository_owner=["acme"])
    with pytest.raises(Unauthorized):
        Authenticator(settings).authenticate(bearer(token))


def test_wrong_audience_does_not_reveal_the_accepted_ones(settings, identity):
    token = identity.google_token("ann@example.com", "https://other.example.com")
    with pytest.raises(Unauthorized) as caught:
        Authenticator(settings).authenticate(bearer(token, "acme"))
    assert caught.value.message == "token audience is not accepted"
    assert AUD not in caught.value.message


class Unreachable(requests.Session):
    def get(self, url, **kwargs):
        raise requests.ConnectionError(f"HTTPSConnectionPool(host='{SECRET}'): {url} refused")


def test_github_api_failure_text_never_reaches_the_caller(settings):
    auth = Authenticator(settings, session=Unreachable())
    with pytest.raises(ServiceUnavailable) as caught:
        auth.authenticate(bearer("ghp_token", "acme"))
    assert SECRET not in caught.value.message
    assert "api.github.com" not in caught.value.message and "http" not in caught.value.message


def test_google_certificates_failure_text_never_reaches_the_caller(settings, identity):
    auth = Authenticator(settings, session=Unreachable())
    token = identity.google_token("ann@example.com", AUD)
    with pytest.raises(ServiceUnavailable) as caught:
        auth.authenticate(bearer(token, "acme"))
    assert SECRET not in caught.value.message and "http" not in caught.value.message


def test_jwks_failure_text_never_reaches_the_caller(identity):
    env = {**identity.env(AUD), "GITHUB_OIDC_JWKS_URL": f"http://127.0.0.1:9/{SECRET}/jwks"}
    auth = Authenticator(Settings.from_env(env))
    with pytest.raises(ServiceUnavailable) as caught:
        auth.authenticate(bearer(identity.github_token("acme")))
    assert SECRET not in caught.value.message and "127.0.0.1" not in caught.value.message


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"Property {SECRET} contains an invalid nested entity.", "nested deeper"),
        (f"projects/{SECRET}/databases/(default)/documents/x is bad", "not valid for Firestore"),
    ],
)
def test_firestore_invalid_argument_text_is_not_repeated(text, expected):
    error = map_google_error(gexc.InvalidArgument(text))
    assert error.status == 400 and expected in error.message
    assert SECRET not in json.dumps(error.body())
