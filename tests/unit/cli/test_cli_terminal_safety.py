"""The CLI never sends a token over plain http (but to loopback) and never prints server
text's terminal control sequences."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from cli.auth import Credentials
from cli.client import Client
from cli.errors import UsageError
from cli.main import main
from cli.terminal import clean

HOSTILE = (
    "fix \x1b]52;c;ZXZpbA==\x07deployed\x1b[2J\x1b[31m red\x1b[0m "
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ over\rwrite\x08\x00 \x9b2J\x9d0;t\x9c ✓"
)


def test_clean_keeps_text_newlines_and_tabs():
    cleaned = clean(HOSTILE + "\n\tnext")
    assert cleaned == "fix deployed red link overwrite  ✓\n\tnext"
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in cleaned)


class Recorder(requests.Session):
    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, dict]] = []

    def request(self, method, url, **kwargs):
        self.sent.append((url, kwargs.get("headers") or {}))
        response = requests.Response()
        response.status_code, response._content = 200, b"{}"
        return response


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://deployq.example.com", True),
        ("http://127.0.0.1:8081", True),
        ("http://localhost:8081", True),
        ("http://[::1]:8081", True),
        ("http://deployq.example.com", False),
        ("http://10.1.2.3:8081", False),
    ],
)
def test_a_token_goes_over_https_or_to_loopback_only(url, allowed):
    session = Recorder()
    client = Client(url, Credentials("token", env={}, token="secret-token"), session=session)
    if allowed:
        client.call("GET", "/v1/deployments")
        assert session.sent[0][1]["Authorization"] == "Bearer secret-token"
    else:
        with pytest.raises(UsageError) as caught:
            client.call("GET", "/v1/deployments")
        assert "plain http" in caught.value.message and session.sent == []


def test_without_a_token_plain_http_is_fine():
    session = Recorder()
    client = Client(
        "http://deployq.example.com", Credentials("none", env={}, org="acme"), session=session
    )
    client.call("GET", "/v1/deployments")
    assert "Authorization" not in session.sent[0][1]


class Hostile:
    """A deployq that answers lists and errors holding escape sequences."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                if "/v1/deployments/" in self.path:
                    status = 404
                    body = {"error": HOSTILE, "code": "not_found", "details": [HOSTILE]}
                else:
                    status = 200
                    record = {
                        "id": "d1",
                        "name": HOSTILE,
                        "version": "1\x1b[8m",
                        "status": "failed",
                    }
                    body = [record]
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_tables_and_errors_print_no_control_sequences(monkeypatch, capsys):
    server = Hostile()
    try:
        monkeypatch.setenv("DEPLOYQ_URL", server.url)
        monkeypatch.setenv("DEPLOYQ_TOKEN", "secret-token")
        monkeypatch.setenv("DEPLOYQ_ORG", "acme")
        monkeypatch.setattr("sys.stdout", io.StringIO())
        monkeypatch.setattr("sys.stderr", io.StringIO())
        import sys

        assert main(["deployments", "list"]) == 0
        assert main(["deployments", "show", "d1"]) == 4
        printed = sys.stdout.getvalue() + sys.stderr.getvalue()
    finally:
        server.close()
    assert "deployed" in printed and "overwrite" in printed
    bad = [c for c in printed if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert bad == [], repr(printed)
