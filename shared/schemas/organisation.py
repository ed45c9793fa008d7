"""The organisation record's request and response shapes (pydantic, published in OpenAPI).

Validation here is what can be decided from the body alone; the service adds what needs
configuration (a grant of the control plane's own database is refused there).
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.config import ROLES
from shared.models.organisation import (
    DATABASE_ID,
    EMAIL,
    ENVIRONMENT_NAME,
    GITHUB_LOGIN,
    OWNER_ID,
    PROJECT_ID,
    SERVICE_PATTERN,
    check_glob,
    matched,
)


def _role(value: str) -> str:
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}; use one of {', '.join(ROLES)}")
    return value


Role = Annotated[str, StringConstraints(strict=True), AfterValidator(_role)]


class EnvironmentTarget(BaseModel):
    """Where an environment's data lives: a Firestore database of a project."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    project: str = Field(description="Google Cloud project id")
    database: str = Field(default="(default)", description="Firestore database id")

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        return matched(PROJECT_ID, value, "not a Google Cloud project id")

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return matched(DATABASE_ID, value, "not a Firestore database id ((default) or a-z, 0-9, -)")


class Member(BaseModel):
    """A person: an email (Google identity), a GitHub login, or both; and their role."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    email: Optional[str] = None
    github_login: Optional[str] = None
    role: Role

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else matched(EMAIL, value, "not an email address").lower()

    @field_validator("github_login")
    @classmethod
    def _login(cls, value: str | None) -> str | None:
        return None if value is None else matched(GITHUB_LOGIN, value, "not a GitHub login")

    @model_validator(mode="after")
    def _identity(self) -> Member:
        if self.email is None and self.github_login is None:
            raise ValueError("a member needs an email, a github_login or both")
        return self


class GithubRule(BaseModel):
    """Tokens whose claims match these globs get `role` (first matching rule wins)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    repository: str = Field(description="glob on the `repository` claim (owner/name)")
    ref: str = Field(description="glob on the `ref` claim (refs/heads/main, refs/tags/v1, ...)")
    environment: Optional[str] = Field(
        default=None, description="glob on the `environment` claim; absent: tokens without one"
    )
    role: Role

    @field_validator("repository", "ref")
    @classmethod
    def _globs(cls, value: str) -> str:
        return check_glob(value)

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        return None if value is None else check_glob(value)


class GithubTrust(BaseModel):
    """Which GitHub owner the organisation is (pinned id) and how its tokens map to roles."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    owner_id: Optional[str] = Field(
        default=None, description="the repository_owner_id claim, digits as text"
    )
    rules: list[GithubRule] = Field(default_factory=list)

    @field_validator("owner_id", mode="before")
    @classmethod
    def _owner_id(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not OWNER_ID.match(value):
            raise ValueError("owner_id is the repository_owner_id claim: digits as text")
        return value


def _unique_identities(members: list[Member]) -> list[Member]:
    seen: dict[tuple[str, str], int] = {}
    for index, member in enumerate(members):
        for kind, value in (("email", member.email), ("github_login", member.github_login)):
            if value is None:
                continue
            key = (kind, value.lower())
            if key in seen:
                raise ValueError(
                    f"members.{index}.{kind}: {value} is already member {seen[key]}; "
                    "an identity appears in one entry only"
                )
            seen[key] = index
    return members


class OrganisationBody(BaseModel):
    """Body of `PUT /v1/organisations/{org}` (platform admins): the whole record."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: Optional[str] = Field(default=None, description="the organisation (as in the path)")
    environments: dict[str, EnvironmentTarget] = Field(default_factory=dict)
    cloud_run_services: list[str] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)
    github: GithubTrust = Field(default_factory=GithubTrust)

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, EnvironmentTarget]):
        for name in value:
            if not ENVIRONMENT_NAME.match(name):
                raise ValueError(f"environment name {name!r} must match [a-z][a-z0-9-]{{0,62}}")
        return value

    @field_validator("cloud_run_services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        for index, pattern in enumerate(value):
            if not isinstance(pattern, str) or not SERVICE_PATTERN.match(pattern):
                raise ValueError(
                    f"item {index}: {pattern!r} is not projects/P/locations/L/services/S "
                    "(S may end with *)"
                )
        return value

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[Member]) -> list[Member]:
        return _unique_identities(value)


class GithubRulesOnly(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    rules: list[GithubRule]


class OrganisationPatch(BaseModel):
    """Body of `PATCH /v1/organisation` (org admins) once the fields are known to be allowed."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    members: Optional[list[Member]] = None
    github: Optional[GithubRulesOnly] = None

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[Member] | None) -> list[Member] | None:
        return None if value is None else _unique_identities(value)


class OrganisationPatchRequest(BaseModel):
    """Body of `PATCH /v1/organisation`: `members` and/or `github.rules`.

    Any other record field is 403 (a platform admin grants it), so the body is only
    decoded here and checked field by field by the service."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    members: Optional[list[Any]] = Field(default=None, description="list of Member")
    github: Optional[dict[str, Any]] = Field(default=None, description='{"rules": [GithubRule]}')


class Organisation(BaseModel):
    """An organisation record as the API answers it."""

    model_config = ConfigDict(defer_build=True)

    name: str
    environments: dict[str, EnvironmentTarget] = Field(default_factory=dict)
    cloud_run_services: list[str] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)
    github: GithubTrust = Field(default_factory=GithubTrust)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


class OrganisationListQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    page_token: Optional[str] = Field(default=None, max_length=200)


class Me(BaseModel):
    """`GET /v1/me`: who the caller is in its organisation."""

    model_config = ConfigDict(defer_build=True)

    kind: str
    organisation: Optional[str]
    actor: Optional[str]
    role: str
    person: Optional[Member] = None
