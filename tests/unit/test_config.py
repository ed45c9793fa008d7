"""Configuration: defaults, parsing, and one clear line naming a bad variable."""

import pytest

from shared.config import ConfigError, Settings, load_settings_or_exit


def test_defaults():
    settings = Settings.from_env({})
    assert settings.auth_enabled is True
    assert settings.github_oidc_issuer == "https://token.actions.githubusercontent.com"
    assert settings.github_oidc_jwks_url == (
        "https://token.actions.githubusercontent.com/.well-known/jwks"
    )
    assert settings.github_oidc_audience == "deployment-queue-api"
    assert settings.firestore_database == "(default)"
    assert settings.job_deadline_seconds == 1800
    assert settings.allowed_organisations == ()


def test_lists_and_json_are_parsed():
    settings = Settings.from_env(
        {
            "ALLOWED_ORGANISATIONS": " Acme, Globex ,",
            "ORG_ACCESS": '{"Acme": {"Ann@Example.com": "admin"}}',
            "INTERNAL_SERVICE_ACCOUNTS": "a@x.iam.gserviceaccount.com",
            "PLATFORM_ADMINS": " Root@Example.com , ops@example.com",
            "GITHUB_OIDC_ISSUER": "http://127.0.0.1:1/github/",
        }
    )
    assert settings.allowed_organisations == ("acme", "globex")
    assert settings.org_access == {"acme": {"ann@example.com": "admin"}}
    assert settings.platform_admins == ("root@example.com", "ops@example.com")
    assert settings.github_oidc_jwks_url == "http://127.0.0.1:1/github/.well-known/jwks"


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"AUTH_ENABLED": "maybe"}, "AUTH_ENABLED"),
        ({"AUTH_ENABLED": "false", "K_SERVICE": "deployments"}, "AUTH_ENABLED"),
        ({"ORG_ACCESS": "{"}, "ORG_ACCESS"),
        ({"ORG_ACCESS": '{"acme": {"a@b.c": "owner"}}'}, "ORG_ACCESS"),
        ({"JOB_DEADLINE_SECONDS": "soon"}, "JOB_DEADLINE_SECONDS"),
        ({"TASKS_QUEUE": "deployq"}, "TASKS_QUEUE"),
        ({"GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
        ({"K_SERVICE": "deployq-deployments"}, "GOOGLE_CLOUD_PROJECT"),
        ({"K_SERVICE": "deployq-worker", "GOOGLE_CLOUD_PROJECT": " "}, "GOOGLE_CLOUD_PROJECT"),
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert variable in str(caught.value)
    with pytest.raises(SystemExit) as exited:
        load_settings_or_exit(env)
    assert variable in str(exited.value) and "\n" not in str(exited.value)


def test_project_defaults_locally_and_is_taken_on_cloud_run():
    assert Settings.from_env({}).project == "deployq-local"
    on_run = Settings.from_env({"K_SERVICE": "deployq-canary", "GOOGLE_CLOUD_PROJECT": "prod-1"})
    assert on_run.project == "prod-1"


def test_events_sweep_schedule_in_docs_matches_terraform():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    variables = (root / "terraform" / "variables.tf").read_text()
    cron = re.search(r'events_sweep\s*=\s*optional\(string,\s*"([^"]+)"\)', variables).group(1)
    every = {"* * * * *": "every minute", "*/5 * * * *": "every 5 minutes"}[cron]
    governance = " ".join((root / "docs" / "governance.md").read_text().split())
    said = [
        m
        for hit in re.finditer(r"events:sweep", governance)
        for m in re.findall(r"every (?:minute|\d+ minutes)", governance[hit.end() :][:120])
    ]
    assert said and set(said) == {every}
