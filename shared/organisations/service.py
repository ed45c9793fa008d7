"""Organisation records as the rest of deployq uses them: grants, members, GitHub trust.

Readers go through `OrganisationService`, which keeps each record in-process for at
most `CACHE_SECONDS`, so a change takes effect everywhere within that time and the hot
paths (every authenticated request reads its organisation's record) cost one Firestore
read per organisation per 30 s per instance.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared import clock, logs
from shared.config import Settings
from shared.errors import BadRequest, Conflict, Forbidden, field_error
from shared.events import build_event
from shared.lazy import Lazy
from shared.models.ids import ORG_NAME
from shared.models.organisation import (
    ORG_ADMIN_FIELDS,
    RECORD_FIELDS,
    OrganisationBody,
    OrganisationPatch,
    glob_match,
    normalised,
    service_matches,
)
from shared.store.firestore import run_transaction
from shared.store.organisations import OrganisationStore

if TYPE_CHECKING:
    from shared.auth import Principal

EVENT_TYPE = "deployq.organisation.updated"
CACHE_SECONDS = 30.0
CACHE_SIZE = 10_000
REPORT_EVERY = 10_000
PLATFORM_GITHUB_FIELDS = ("owner_id",)
log = logs.get("organisations")


class Unchanged:
    """A decision that writes nothing."""


class Delete:
    """A decision that removes the record."""


class OwnerMismatch(Forbidden):
    code = "owner_mismatch"


class NoMatchingRule(Forbidden):
    code = "no_matching_rule"


class ServiceNotGranted(Forbidden):
    code = "service_not_granted"


@dataclass
class CacheStats:
    """Lookups of the record cache; logged every REPORT_EVERY lookups."""

    hits: int = 0
    misses: int = 0

    def count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        lookups = self.hits + self.misses
        if lookups % REPORT_EVERY == 0:
            log.info(
                "organisation record cache: %d lookups, hit rate %.4f",
                lookups,
                self.hits / lookups,
            )


class RecordCache:
    """Records by organisation for at most `ttl` seconds (absent ones as their empty form)."""

    def __init__(self, ttl: float = CACHE_SECONDS, size: int = CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self.stats = CacheStats()
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, org: str) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            item = self._items.get(org)
            if item is None or item[0] < time.monotonic():
                self.stats.count(hit=False)
                return False, None
            self.stats.count(hit=True)
            return True, item[1]

    def put(self, org: str, record: dict[str, Any]) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] >= now}
                if len(self._items) >= self.size:
                    self._items.pop(next(iter(self._items)))
            self._items[org] = (time.monotonic() + self.ttl, record)

    def forget(self, org: str) -> None:
        with self._lock:
            self._items.pop(org, None)


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


def encode_page_token(org: str) -> str:
    return base64.urlsafe_b64encode(org.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    try:
        org = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        org = ""
    if not ORG_NAME.match(org):
        raise field_error("page_token", "not a page token this API returned")
    return org.lower()


class OrganisationService:
    """Organisation records: platform-admin and org-admin changes, grants, trust, persons."""

    def __init__(self, settings: Settings, store=None, events=None, run=run_transaction):
        """`store`, `events` (an EventSink; None: no events) and `run` (the transaction
        runner) default to the control-plane database's; tests may hold records in memory."""
        self.settings = settings
        self.cache = RecordCache()
        self._run = run
        if store is None:
            self._events = Lazy(self._control_plane_events)
            self._store = Lazy(lambda: OrganisationStore(self.events.db))
        else:
            self._events, self._store = Lazy(lambda: events), Lazy(lambda: store)

    def _control_plane_events(self):
        from shared.events import event_sink

        return event_sink(self.settings)

    @property
    def events(self):
        """The event sink of the control-plane database (None: changes emit no events)."""
        return self._events()

    @property
    def store(self) -> OrganisationStore:
        return self._store()

    def _change(self, org: str, decide, principal: Principal | None, meta: dict | None = None):
        """Apply `decide(stored or None)` -> new record | Unchanged | Delete in one
        transaction with its `deployq.organisation.updated` event; (before, after)."""

        def body(transaction):
            before = self.store.get(org, transaction)
            decision = decide(before)
            if decision is Unchanged or (decision is Delete and before is None):
                return before, (None if decision is Delete else before), []
            after = None if decision is Delete else decision
            if after is None:
                self.store.delete(transaction, org)
            else:
                self.store.write(transaction, org, after)
            events = []
            if self.events is not None:
                events.append(
                    build_event(
                        org,
                        EVENT_TYPE,
                        f"organisations/{org}",
                        before,
                        after,
                        principal=principal,
                        meta=meta,
                        time=(after or {}).get("updated_at"),
                    )
                )
                self.events.record(transaction, org, events)
            return before, after, events

        before, after, events = self._run(self.store.db, body)
        self.cache.forget(org)
        if events:
            self.events.publish_soon(org, events)
        return before, after

    # -- reading --------------------------------------------------------------------

    def record(self, org: str) -> dict[str, Any]:
        """The record with every field present (an organisation with none has empty lists),
        at most CACHE_SECONDS old. Shared by readers: never change it."""
        org = org.lower()
        found, record = self.cache.get(org)
        if not found:
            record = normalised(org, self.store.get(org))
            self.cache.put(org, record)
        return record

    def list(self, limit: int, page_token: str | None) -> tuple[list[dict], str | None]:
        after = decode_page_token(page_token) if page_token else None
        items, last = self.store.list(limit, after)
        return [normalised(org, stored) for org, stored in items], (
            encode_page_token(last) if last else None
        )

    # -- targets --------------------------------------------------------------------

    def environment_for(self, org: str, name: Any, field: str = "environment") -> dict[str, str]:
        """`{"project", "database"}` of one of the organisation's environments.

        400 `unknown_environment` naming `field` otherwise; the message lists only this
        organisation's environment names.
        """
        environments = self.record(org)["environments"]
        if not isinstance(name, str) or name not in environments:
            known = ", ".join(sorted(environments)) or "none granted to this organisation"
            raise field_error(
                field,
                f"unknown environment {name!r} (this organisation's: {known})",
                code="unknown_environment",
            )
        target = environments[name]
        return {
            "project": target.get("project") or self.settings.project,
            "database": target.get("database") or "(default)",
        }

    def require_service_granted(self, org: str, service_path: str) -> None:
        """403 `service_not_granted` unless the Cloud Run service matches one of the grants."""
        patterns = self.record(org)["cloud_run_services"]
        if not any(service_matches(p, service_path) for p in patterns):
            raise ServiceNotGranted(
                f"organisation {org} may not act on Cloud Run service {service_path}; "
                "a platform admin grants services in the organisation record",
                details=[{"field": "service", "error": "not granted to this organisation"}],
            )

    # -- persons --------------------------------------------------------------------

    def person_key(self, principal: Principal) -> str:
        """Who the caller is as a person: their member entry, else their actor alone."""
        if principal.person:
            return member_key(principal.person)
        return actor_key(principal.actor or principal.subject)

    def person_of_actor(self, org: str, actor: str | None) -> str | None:
        """The person key of a stored actor (an email or a GitHub login) in this organisation."""
        if not actor:
            return None
        record = self.record(org)
        member = person_of(record, email=actor) if "@" in actor else person_of(record, login=actor)
        return member_key(member) if member else actor_key(actor)

    # -- identity -------------------------------------------------------------------

    def role_of_member(self, org: str, *, email: str | None = None, login: str | None = None):
        """(role, member entry) of an identity in the record, or (None, None)."""
        member = person_of(self.record(org), email=email, login=login)
        return (member["role"], member) if member else (None, None)

    def github_oidc_role(self, org: str, claims: dict[str, Any], principal: Principal) -> str:
        """The role a verified GitHub OIDC token gets in `org` (pinning the owner id first).

        403 `owner_mismatch` when the organisation is pinned to another owner id, 403
        `no_matching_rule` when rules exist and none matches.
        """
        owner_id = str(claims.get("repository_owner_id") or "")
        record = self.record(org)
        pinned = record["github"]["owner_id"]
        if pinned is None:
            pinned = self._pin_owner(org, owner_id, principal)
        if pinned != owner_id:
            raise OwnerMismatch(
                f"tokens of {org} come from another GitHub owner (repository_owner_id "
                f"{owner_id}, organisation pinned to {pinned})"
            )
        rules = record["github"]["rules"]
        if not rules:
            return "deployer"
        role = role_from_rules(rules, claims)
        if role is None:
            raise NoMatchingRule(
                f"no GitHub rule of {org} matches repository {claims.get('repository')!r}, "
                f"ref {claims.get('ref')!r}, environment {claims.get('environment')!r}"
            )
        return role

    def _pin_owner(self, org: str, owner_id: str, principal: Principal) -> str:
        """Record the first owner id seen (creating the record); the pinned id after."""

        def decide(before):
            current = normalised(org, before)
            if current["github"]["owner_id"] is not None:
                return Unchanged
            now = clock.now_text()
            after = {
                **current,
                "github": {**current["github"], "owner_id": owner_id},
                "created_at": current["created_at"] or now,
                "updated_at": now,
            }
            return after

        _, after = self._change(org, decide, principal)
        return normalised(org, after)["github"]["owner_id"]

    # -- changes --------------------------------------------------------------------

    def _check_targets(self, body: OrganisationBody) -> None:
        for name, target in body.environments.items():
            if (
                target.project == self.settings.project
                and target.database == self.settings.firestore_database
            ):
                raise field_error(
                    f"environments.{name}.database",
                    "is the control plane's own database; grant a separate database",
                    code="control_plane_database",
                )

    def put(self, org: str, payload: Any, principal: Principal, meta: dict) -> dict[str, Any]:
        """Create or replace a record (platform admins); 400 naming the field when invalid."""
        org = check_org(org)
        body = validate(OrganisationBody, payload)
        if body.name is not None and body.name.lower() != org:
            raise field_error("name", f"must be {org} (the organisation in the path) or absent")
        self._check_targets(body)
        content = body.model_dump(mode="json", exclude={"name"})

        def decide(before):
            current = normalised(org, before)
            if before is not None and {k: current[k] for k in content} == content:
                return Unchanged
            now = clock.now_text()
            return {
                **content,
                "name": org,
                "created_at": current["created_at"] or now,
                "updated_at": now,
            }

        _, after = self._change(org, decide, principal, meta)
        return normalised(org, after)

    def delete(self, org: str, principal: Principal, meta: dict) -> bool:
        """Remove the record (grants, members, trust); the organisation's data stays."""
        org = check_org(org)
        before, _ = self._change(org, lambda before: Delete, principal, meta)
        return before is not None

    def patch(self, org: str, payload: Any, principal: Principal, meta: dict) -> dict[str, Any]:
        """An org admin's change of `members` and/or `github.rules`.

        403 naming any other field; 400 for invalid values; 409 `last_admin` when the
        change would leave the organisation without an admin member.
        """
        if not isinstance(payload, dict):
            raise BadRequest("request body must be a JSON object", code="invalid_json")
        refuse_platform_fields(payload)
        patch = validate(OrganisationPatch, payload)
        if patch.members is None and patch.github is None:
            raise BadRequest("nothing to change: give members or github.rules", code="empty_body")

        def decide(before):
            current = normalised(org, before)
            after = {**current, "github": dict(current["github"])}
            if patch.members is not None:
                after["members"] = [m.model_dump(mode="json") for m in patch.members]
            if patch.github is not None:
                after["github"]["rules"] = [r.model_dump(mode="json") for r in patch.github.rules]
            if admins(current) and not admins(after):
                raise Conflict(
                    "this change removes the last admin of the organisation; "
                    "add another admin first",
                    code="last_admin",
                )
            if before is not None and after == current:
                return Unchanged
            now = clock.now_text()
            return {**after, "created_at": current["created_at"] or now, "updated_at": now}

        _, after = self._change(org, decide, principal, meta)
        return normalised(org, after)


def admins(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in record.get("members") or [] if m.get("role") == "admin"]


def refuse_platform_fields(payload: dict[str, Any]) -> None:
    """403 naming the first field an org admin may not change (environments, services, ...).

    Unknown fields are left to the model's 400."""
    for name, value in payload.items():
        if name in ORG_ADMIN_FIELDS:
            allowed = ORG_ADMIN_FIELDS[name]
            if allowed is not None and isinstance(value, dict):
                for sub in value:
                    if sub not in allowed and sub in PLATFORM_GITHUB_FIELDS:
                        raise _platform_only(f"{name}.{sub}")
        elif name in RECORD_FIELDS:
            raise _platform_only(name)


def _platform_only(field: str) -> Forbidden:
    return Forbidden(
        f"{field} is granted by a platform admin; an organisation admin may change only "
        "members and github.rules",
        code="platform_admin_field",
        details=[{"field": field, "error": "only platform admins may change it"}],
    )


def check_org(org: str) -> str:
    if not isinstance(org, str) or not ORG_NAME.match(org):
        raise field_error("org", "not an organisation name")
    return org.lower()


def validate(model, payload: Any):
    """Validate a body with a model; 400 whose details name each field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "body"
            details.append({"field": where, "error": error["msg"]})
        summary = "; ".join(f"{d['field']}: {d['error']}" for d in details[:5])
        raise BadRequest(
            f"invalid organisation record: {summary}", code="validation_error", details=details
        ) from None


# The process's organisation service of a configuration (one cache per process).
organisations_for = Lazy(OrganisationService, key=id)
