"""Outgoing webhooks: https only, no redirects, the secret path never logged, Slack control
sequences in user text escaped."""

from __future__ import annotations

import http.server
import logging
import threading

import pytest
import requests

from shared.governance import notify
from shared.schemas.governance import NotificationSettings
from shared.webhooks import redacted, slack_text, url_problem

SECRET_PATH = "/services/T000/B000/XXXXsecretXXXX"


@pytest.mark.parametrize(
    "url, local, allowed",
    [
        ("https://hooks.slack.com" + SECRET_PATH, False, True),
        ("https://hooks.slack.com" + SECRET_PATH, True, True),
        ("http://127.0.0.1:8099/hook", True, True),
        ("http://localhost:8099/hook", True, True),
        ("http://[::1]:8099/hook", True, True),
        ("http://127.0.0.1:8099/hook", False, False),
        ("http://hooks.slack.com" + SECRET_PATH, True, False),
        ("http://10.0.0.8/hook", True, False),
        ("http://169.254.169.254/computeMetadata/v1/", True, False),
        ("ftp://hooks.slack.com/x", True, False),
        ("javascript:alert(1)", True, False),
        ("https://user:pw@hooks.slack.com/x", True, False),
        ("https:///nohost", True, False),
        ("https://hooks.slack.com/a b", True, False),
        ("https://hooks.slack.com:99999/x", True, False),
    ],
)
def test_which_urls_may_be_webhooks(url, local, allowed):
    assert (url_problem(url, local=local) is None) is allowed


def test_registration_refuses_plain_http_and_never_echoes_the_url(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.delenv("K_SERVICE", raising=False)
    assert NotificationSettings(slack_webhook_url="http://127.0.0.1:9/x").slack_webhook_url
    for url in ("http://hooks.example.com" + SECRET_PATH, "gopher://x" + SECRET_PATH):
        with pytest.raises(ValidationError) as caught:
            NotificationSettings(slack_webhook_url=url)
        assert "https" in str(caught.value)
        assert "secret" not in str(caught.value.errors(include_input=False, include_url=False))
    monkeypatch.setenv("K_SERVICE", "deployq-deployments")
    with pytest.raises(ValidationError):
        NotificationSettings(slack_webhook_url="http://127.0.0.1:9/x")


def test_slack_control_sequences_are_escaped():
    text = "deploy <!channel> <@U123> <http://evil.example|click> & <!here> a > b"
    escaped = slack_text(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped == (
        "deploy &lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click&gt; &amp; "
        "&lt;!here&gt; a &gt; b"
    )


def test_notes_reach_slack_escaped_without_redirects():
    class Recorder:
        calls: list = []

        def post(self, url, **kwargs):
            self.calls.append((url, kwargs))
            return type("R", (), {"status_code": 200})()

    event = {
        "type": "deployq.deployment.status_changed",
        "data": {
            "organisation": "acme",
            "after": {
                "id": "d1",
                "name": "web",
                "version": "<@U999>",
                "status": "failed",
                "notes": "<!channel> see <https://evil.example|the fix>",
            },
            "principal": {"actor": "mallory <!here>"},
        },
    }
    recorder = Recorder()
    assert notify.send("https://hooks.example.com/x", notify.message_for(event), recorder)
    [(url, kwargs)] = recorder.calls
    text = kwargs["json"]["text"]
    assert kwargs["allow_redirects"] is False
    assert "<!channel>" not in text and "<@U999>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|the fix&gt;" in text


class Servers:
    """A webhook that redirects (to a second server that records what reaches it)."""

    def __init__(self):
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hits.append(f"{self.server.server_port}{self.path}")
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/redirect"):
                    self.send_response(307)
                    self.send_header("Location", f"http://127.0.0.1:{target.port}/stolen")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass

        class Server:
            def __init__(self):
                self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                self.port = self.httpd.server_port
                threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

        target = Server()
        self.target, self.redirector = target, Server()

    def close(self):
        for server in (self.target, self.redirector):
            server.httpd.shutdown()
            server.httpd.server_close()


def test_redirects_are_not_followed_and_the_secret_path_is_never_logged(caplog, monkeypatch):
    monkeypatch.delenv("K_SERVICE", raising=False)
    servers = Servers()
    try:
        url = f"http://127.0.0.1:{servers.redirector.port}/redirect{SECRET_PATH}"
        with caplog.at_level(logging.DEBUG):
            assert notify.send(url, "hello", requests.Session()) is False
            assert notify.send(f"http://127.0.0.1:1{SECRET_PATH}", "hello") is False
            assert notify.send("http://hooks.example.com" + SECRET_PATH, "hello") is False
        assert servers.hits == [f"{servers.redirector.port}/redirect{SECRET_PATH}"]
        # What deployq logs (urllib3 logs request lines at DEBUG only, which is not shown).
        logged = " ".join(
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("deployq") or r.levelno >= logging.INFO
        )
        assert "307" in logged and "127.0.0.1" in logged
        assert "secret" not in logged and "services" not in logged
    finally:
        servers.close()
    assert redacted("https://hooks.slack.com" + SECRET_PATH) == "https://hooks.slack.com/..."
