"""The caller of one request: who they are, in which organisation, with which role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.config import ROLES
from shared.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    """The caller of one request, scoped to one organisation."""

    kind: str  # github_oidc | google | github_pat | internal | local
    subject: str
    organisation: str | None
    role: str
    repository: str | None = None
    workflow: str | None = None
    actor: str | None = None
    # The organisation record's member entry that matched this caller, if any: one person
    # may hold several credentials (an email and a GitHub login).
    person: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def has_role(self, minimum: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(minimum)

    def require(self, minimum: str) -> None:
        """Raise Forbidden unless the caller's role is at least `minimum`."""
        if not self.has_role(minimum):
            raise Forbidden(f"this action needs the {minimum} role; you are {self.role}")
