"""Configuration of every function, read once from the environment.

Bad configuration raises `ConfigError` with one line naming the variable; the
functions turn that into a start-up failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("viewer", "deployer", "approver", "admin")
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""


def _csv(value: str | None, *, lower: bool = False) -> tuple[str, ...]:
    items = [item.strip() for item in (value or "").split(",")]
    return tuple(item.lower() if lower else item for item in items if item)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _json(env: Mapping[str, str], name: str) -> object | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from None


def _org_access(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    raw = _json(env, "ORG_ACCESS")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('ORG_ACCESS must be a JSON object {"org": {"email": "role"}}')
    access: dict[str, dict[str, str]] = {}
    for org, members in raw.items():
        if not isinstance(members, dict):
            raise ConfigError(f"ORG_ACCESS[{org!r}] must be an object of email -> role")
        for email, role in members.items():
            if role not in ROLES:
                raise ConfigError(
                    f"ORG_ACCESS[{org!r}][{email!r}] has unknown role {role!r}; "
                    f"use one of {', '.join(ROLES)}"
                )
        access[str(org).lower()] = {str(e).lower(): r for e, r in members.items()}
    return access


@dataclass(frozen=True)
class Settings:
    """Every documented environment variable, parsed."""

    project: str = "deployq-local"
    firestore_database: str = "(default)"
    auth_enabled: bool = True
    github_oidc_issuer: str = "https://token.actions.githubusercontent.com"
    github_oidc_audience: str = "deployment-queue-api"
    github_oidc_jwks_url: str = "https://token.actions.githubusercontent.com/.well-known/jwks"
    allowed_organisations: tuple[str, ...] = ()
    github_api_url: str = "https://api.github.com"
    google_id_token_audiences: tuple[str, ...] = ()
    google_certs_url: str = GOOGLE_CERTS_URL
    org_access: dict[str, dict[str, str]] = field(default_factory=dict)
    internal_service_accounts: tuple[str, ...] = ()
    tasks_queue: str | None = None
    tasks_emulator_host: str | None = None
    worker_url: str | None = None
    tasks_service_account: str | None = None
    events_topic: str | None = None
    pubsub_emulator_host: str | None = None
    cloud_run_api_endpoint: str | None = None
    monitoring_api_endpoint: str | None = None
    platform_admins: tuple[str, ...] = ()
    job_deadline_seconds: int = 1800
    packages_url: str | None = None
    canary_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment; raises ConfigError naming the first bad variable."""
        env = os.environ if env is None else env
        auth_enabled = _bool(env, "AUTH_ENABLED", True)
        if not auth_enabled and env.get("K_SERVICE"):
            raise ConfigError("AUTH_ENABLED=false is refused on Cloud Run (K_SERVICE is set)")
        if env.get("K_SERVICE") and not (env.get("GOOGLE_CLOUD_PROJECT") or "").strip():
            # The local default would point a deployed function at a project that is not its own.
            raise ConfigError("GOOGLE_CLOUD_PROJECT is required on Cloud Run (K_SERVICE is set)")
        issuer = (env.get("GITHUB_OIDC_ISSUER") or cls.github_oidc_issuer).rstrip("/")
        for name in (
            "GITHUB_OIDC_ISSUER",
            "GITHUB_OIDC_JWKS_URL",
            "GITHUB_API_URL",
            "WORKER_URL",
            "PACKAGES_URL",
            "CANARY_URL",
        ):
            value = env.get(name)
            if value and not value.startswith(("http://", "https://")):
                raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        queue = env.get("TASKS_QUEUE") or None
        if queue and not queue.startswith("projects/"):
            raise ConfigError(
                f"TASKS_QUEUE must be a queue path projects/P/locations/L/queues/Q, got {queue!r}"
            )
        return cls(
            project=env.get("GOOGLE_CLOUD_PROJECT") or cls.project,
            firestore_database=env.get("FIRESTORE_DATABASE") or "(default)",
            auth_enabled=auth_enabled,
            github_oidc_issuer=issuer,
            github_oidc_audience=env.get("GITHUB_OIDC_AUDIENCE") or cls.github_oidc_audience,
            github_oidc_jwks_url=env.get("GITHUB_OIDC_JWKS_URL") or f"{issuer}/.well-known/jwks",
            allowed_organisations=_csv(env.get("ALLOWED_ORGANISATIONS"), lower=True),
            github_api_url=(env.get("GITHUB_API_URL") or cls.github_api_url).rstrip("/"),
            google_id_token_audiences=_csv(env.get("GOOGLE_ID_TOKEN_AUDIENCES"))
            + _csv(env.get("CONSOLE_OAUTH_CLIENT_ID")),  # the console's sign-in tokens
            google_certs_url=env.get("GOOGLE_CERTS_URL") or GOOGLE_CERTS_URL,
            org_access=_org_access(env),
            internal_service_accounts=_csv(env.get("INTERNAL_SERVICE_ACCOUNTS"), lower=True),
            tasks_queue=queue,
            tasks_emulator_host=env.get("TASKS_EMULATOR_HOST") or None,
            worker_url=env.get("WORKER_URL") or None,
            tasks_service_account=env.get("TASKS_SERVICE_ACCOUNT") or None,
            events_topic=env.get("EVENTS_TOPIC") or None,
            pubsub_emulator_host=env.get("PUBSUB_EMULATOR_HOST") or None,
            cloud_run_api_endpoint=env.get("CLOUD_RUN_API_ENDPOINT") or None,
            monitoring_api_endpoint=env.get("MONITORING_API_ENDPOINT") or None,
            platform_admins=_csv(env.get("PLATFORM_ADMINS"), lower=True),
            job_deadline_seconds=_int(env, "JOB_DEADLINE_SECONDS", 1800),
            packages_url=(env.get("PACKAGES_URL") or "").rstrip("/") or None,
            canary_url=(env.get("CANARY_URL") or "").rstrip("/") or None,
        )


def load_settings_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a function at start-up: bad configuration ends the process with one line."""
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        raise SystemExit(f"deployq: configuration error: {exc}") from None
