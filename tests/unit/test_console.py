"""The console function's files and the APIs' CORS for the console's origin (no emulators)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from pathlib import Path

import flask
import functions_framework
import pytest

from shared.config import Settings
from shared.web import Api

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = "http://console.example"


@pytest.fixture
def console(monkeypatch):
    if not (ROOT / "functions/console/static/index.html").exists():
        pytest.skip("console assets not built: make init")
    monkeypatch.setenv("DEPLOYMENTS_URL", "https://api.example/deployments")
    monkeypatch.setenv("CONSOLE_OAUTH_CLIENT_ID", "123.apps.googleusercontent.com")
    monkeypatch.setenv("CONSOLE_ORGANISATIONS", "acme, Globex")
    app = functions_framework.create_app("console", str(ROOT / "functions/console/main.py"))
    return app.test_client()


def test_the_page_carries_its_configuration_and_a_strict_policy(console):
    response = console.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    config = json.loads(re.search(r'id="config">(.*?)</script>', html).group(1))
    assert config["deployments"] == "https://api.example/deployments"
    assert config["client_id"] == "123.apps.googleusercontent.com"
    assert config["organisations"] == ["acme", "globex"]
    assert config["auth_enabled"] is True
    assert response.headers["Cache-Control"] == "no-cache"
    policy = response.headers["Content-Security-Policy"]
    # An origin: a source with a path would allow that one path only.
    assert "connect-src 'self' https://api.example https:;" in policy
    # The inline script and style run because the policy names their hashes, nothing else.
    script = re.search(r'<script type="module">(.*?)</script>', html, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    for text, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}';" in policy
    assert "src=" not in html and 'href="assets' not in html  # works under any path prefix


def test_the_page_is_compressed_and_revalidated(console):
    response = console.get("/", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.get_data()) == console.get("/").get_data()
    again = console.get("/", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_anything_else_is_a_json_404_and_health_answers(console):
    missing = console.get("/assets/app.js")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    assert console.get("/health").json == {"status": "healthy"}
    assert console.post("/").status_code == 405


def api() -> Api:
    return Api("test", Settings(), [])


def call(method: str, origin: str | None):
    headers = {"Origin": origin} if origin else {}
    with flask.Flask(__name__).test_request_context("/health", method=method, headers=headers):
        return api().handle(flask.request)


def test_cors_answers_only_the_console_origin(monkeypatch):
    monkeypatch.setenv("CONSOLE_ORIGIN", f"{CONSOLE},http://127.0.0.1:8086")
    allowed = call("GET", CONSOLE)
    assert allowed.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "X-Next-Page-Token" in allowed.headers["Access-Control-Expose-Headers"]
    preflight = call("OPTIONS", CONSOLE)
    assert preflight.status_code == 204
    assert "X-Organisation" in preflight.headers["Access-Control-Allow-Headers"]
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    other = call("GET", "https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers
    assert call("OPTIONS", "https://evil.example").status_code != 204


def test_no_console_origin_means_no_cors(monkeypatch):
    monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
    assert "Access-Control-Allow-Origin" not in call("GET", CONSOLE).headers


def test_the_console_client_id_is_an_accepted_audience():
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "GOOGLE_ID_TOKEN_AUDIENCES": "https://fn.example",
            "CONSOLE_OAUTH_CLIENT_ID": "123.apps.googleusercontent.com",
        }
    )
    assert settings.google_id_token_audiences == (
        "https://fn.example",
        "123.apps.googleusercontent.com",
    )
