"""Registering a notification webhook: https only, the URL never echoed in the refusal."""

import pytest

SECRET = "/services/T000/B000/XXXXsecretXXXX"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com" + SECRET,
        "http://169.254.169.254/computeMetadata/v1/",
        "ftp://hooks.slack.com" + SECRET,
        "https://user:pw@hooks.slack.com" + SECRET,
    ],
)
def test_a_webhook_that_is_not_https_is_refused(deployments, as_, url):
    response = deployments.put(
        "/v1/settings/notifications", json={"slack_webhook_url": url}, headers=as_("admin")
    )
    assert response.status_code == 400, response.json
    assert set(response.json) == {"error", "code", "details"}
    assert "secret" not in response.get_data(as_text=True)
    stored = deployments.get("/v1/settings/notifications", headers=as_("admin")).json
    assert stored["slack_webhook_url"] is None


def test_https_and_local_loopback_are_accepted(deployments, as_, monkeypatch):
    for url in ("https://hooks.slack.com" + SECRET, "http://127.0.0.1:8099/hook"):
        response = deployments.put(
            "/v1/settings/notifications", json={"slack_webhook_url": url}, headers=as_("admin")
        )
        assert response.status_code == 200 and response.json["slack_webhook_url"] == url
    monkeypatch.setenv("K_SERVICE", "deployq-deployments")  # on Cloud Run: no plain http at all
    response = deployments.put(
        "/v1/settings/notifications",
        json={"slack_webhook_url": "http://127.0.0.1:8099/hook"},
        headers=as_("admin"),
    )
    assert response.status_code == 400
