"""Who a caller is in an organisation: member entries and GitHub OIDC trust rules."""

from __future__ import annotations

from typing import Any

from shared.errors import Forbidden
from shared.models.organisation import glob_match


class OwnerMismatch(Forbidden):
    code = "owner_mismatch"


class NoMatchingRule(Forbidden):
    code = "no_matching_rule"


def person_of(record: dict[str, Any], *, email: str | None = None, login: str | None = None):
    """The member entry with this email or GitHub login (case-insensitive), else None."""
    for member in record.get("members") or []:
        if email and (member.get("email") or "").lower() == email.lower():
            return member
        if login and (member.get("github_login") or "").lower() == login.lower():
            return member
    return None


def member_key(member: dict[str, Any]) -> str:
    """One text per person: their email when they have one, else their GitHub login."""
    if member.get("email"):
        return f"email:{member['email'].lower()}"
    return f"github:{member['github_login'].lower()}"


def actor_key(actor: str) -> str:
    """The person key of an actor with no member entry: emails and logins never collide."""
    actor = actor.strip().lower()
    return f"email:{actor}" if "@" in actor else f"github:{actor}"


def role_from_rules(rules: list[dict[str, Any]], claims: dict[str, Any]) -> str | None:
    """The role of the first rule matching the token's repository, ref and environment claims.

    A rule with `environment` matches only tokens carrying that claim; one without matches
    only tokens without it. None when no rule matches.
    """
    repository = str(claims.get("repository") or "")
    ref = str(claims.get("ref") or "")
    environment = claims.get("environment")
    for rule in rules:
        if not glob_match(rule["repository"], repository, ignore_case=True):
            continue
        if not glob_match(rule["ref"], ref):
            continue
        wanted = rule.get("environment")
        if wanted is None:
            if environment:
                continue
        elif not environment or not glob_match(wanted, str(environment), ignore_case=True):
            continue
        return rule["role"]
    return None


def check_owner(org: str, owner_id: str, pinned: str | None) -> None:
    """403 `owner_mismatch` unless the token's owner id is the one the organisation pinned."""
    if pinned != owner_id:
        raise OwnerMismatch(
            f"tokens of {org} come from another GitHub owner (repository_owner_id "
            f"{owner_id}, organisation pinned to {pinned})"
        )


def github_role(org: str, rules: list[dict[str, Any]], claims: dict[str, Any]) -> str:
    """The role the rules give a token: `deployer` when there are none.

    403 `no_matching_rule` when rules exist and none matches.
    """
    if not rules:
        return "deployer"
    role = role_from_rules(rules, claims)
    if role is None:
        raise NoMatchingRule(
            f"no GitHub rule of {org} matches repository {claims.get('repository')!r}, "
            f"ref {claims.get('ref')!r}, environment {claims.get('environment')!r}"
        )
    return role
