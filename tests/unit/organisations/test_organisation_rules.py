"""GitHub trust rules, globs and Cloud Run service grants, as tables."""

from __future__ import annotations

import pytest

from shared.models.organisation import glob_match, service_matches
from shared.organisations.service import actor_key, member_key, role_from_rules


@pytest.mark.parametrize(
    "pattern, text, expected",
    [
        ("acme/*", "acme/app", True),
        ("acme/*", "acme/app/x", False),
        ("acme/**", "acme/app/x", True),
        ("refs/heads/*", "refs/heads/main", True),
        ("refs/heads/*", "refs/heads/feature/x", False),
        ("refs/heads/**", "refs/heads/feature/x", True),
        ("refs/tags/v*", "refs/tags/v1.2.3", True),
        ("refs/tags/v*", "refs/tags/x1", False),
        ("acme/app", "acme/app", True),
        ("acme/app", "acme/app2", False),
        ("acme/a.p", "acme/axp", False),  # `.` is literal
        ("**", "anything/at/all", True),
        ("*", "", True),
    ],
)
def test_globs(pattern, text, expected):
    assert glob_match(pattern, text) is expected


RULES = [
    {"repository": "acme/infra", "ref": "refs/heads/main", "environment": "prod*", "role": "admin"},
    {"repository": "acme/*", "ref": "refs/heads/main", "environment": None, "role": "deployer"},
    {"repository": "acme/**", "ref": "refs/tags/**", "environment": None, "role": "viewer"},
]


@pytest.mark.parametrize(
    "claims, role",
    [
        (
            {"repository": "acme/infra", "ref": "refs/heads/main", "environment": "production"},
            "admin",
        ),
        # A token without the environment claim matches only rules without `environment`.
        ({"repository": "acme/infra", "ref": "refs/heads/main"}, "deployer"),
        # With an environment claim, rules without `environment` do not match.
        ({"repository": "acme/app", "ref": "refs/heads/main", "environment": "staging"}, None),
        ({"repository": "ACME/App", "ref": "refs/heads/main"}, "deployer"),
        ({"repository": "acme/app", "ref": "refs/heads/dev"}, None),
        ({"repository": "acme/app", "ref": "refs/tags/v1/rc"}, "viewer"),
        ({"repository": "evil/app", "ref": "refs/heads/main"}, None),
    ],
)
def test_first_matching_rule_gives_the_role(claims, role):
    assert role_from_rules(RULES, claims) == role


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        (
            "projects/p-1234/locations/eu/services/web",
            "projects/p-1234/locations/eu/services/web",
            True,
        ),
        (
            "projects/p-1234/locations/eu/services/web",
            "projects/p-1234/locations/eu/services/web2",
            False,
        ),
        (
            "projects/p-1234/locations/eu/services/web*",
            "projects/p-1234/locations/eu/services/web2",
            True,
        ),
        (
            "projects/p-1234/locations/eu/services/*",
            "projects/p-1234/locations/us/services/web",
            False,
        ),
        (
            "projects/p-1234/locations/eu/services/*",
            "projects/p-12345/locations/eu/services/web",
            False,
        ),
    ],
)
def test_service_grants(pattern, path, expected):
    assert service_matches(pattern, path) is expected


def test_person_keys_join_credentials_of_one_member():
    member = {"email": "ann@example.com", "github_login": "ann-gh", "role": "approver"}
    assert member_key(member) == "email:ann@example.com"
    assert member_key({"github_login": "Ann-GH", "role": "viewer"}) == "github:ann-gh"
    assert actor_key("Bob@Example.com") == "email:bob@example.com"
    assert actor_key("bob") == "github:bob"
