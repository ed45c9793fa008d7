"""Organisation records as the rest of deployq uses them: grants, members, GitHub trust.

Readers go through `OrganisationService`, which keeps each record in-process for at
most `CACHE_SECONDS`, so a change takes effect everywhere within that time and the hot
paths (every authenticated request reads its organisation's record) cost one Firestore
read per organisation per 30 s per instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import clock
from shared.config import Settings
from shared.errors import BadRequest, Conflict, Forbidden, field_error
from shared.events import build_event
from shared.lazy import Lazy
from shared.models.organisation import normalised, service_matches
from shared.organisations.cache import CACHE_SECONDS, RecordCache
from shared.organisations.checks import (
    admins,
    check_org,
    decode_page_token,
    encode_page_token,
    refuse_platform_fields,
    validate,
)
from shared.organisations.trust import (
    NoMatchingRule,
    OwnerMismatch,
    actor_key,
    check_owner,
    github_role,
    member_key,
    person_of,
    role_from_rules,
)
from shared.store.firestore import run_transaction
from shared.store.organisations import OrganisationStore

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.schemas.organisation import OrganisationBody

# Names importable from here as before the split.
__all__ = [
    "CACHE_SECONDS",
    "NoMatchingRule",
    "OrganisationService",
    "OwnerMismatch",
    "ServiceNotGranted",
    "actor_key",
    "check_org",
    "member_key",
    "organisations_for",
    "role_from_rules",
]

EVENT_TYPE = "deployq.organisation.updated"


class Unchanged:
    """A decision that writes nothing."""


class Delete:
    """A decision that removes the record."""


class ServiceNotGranted(Forbidden):
    code = "service_not_granted"


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
        check_owner(org, owner_id, pinned)
        return github_role(org, record["github"]["rules"], claims)

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
        from shared.schemas.organisation import OrganisationBody

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
        from shared.schemas.organisation import OrganisationPatch

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


# The process's organisation service of a configuration (one cache per process).
organisations_for = Lazy(OrganisationService, key=id)
