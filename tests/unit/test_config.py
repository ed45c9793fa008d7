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
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert variable in str(caught.value)
    with pytest.raises(SystemExit) as exited:
        load_settings_or_exit(env)
    assert variable in str(exited.value) and "\n" not in str(exited.value)
