"""Test support for the CLI: a stand-in for GitHub Actions' OIDC token endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REQUEST_TOKEN = "actions-request-token-123"


class ActionsTokenServer:
    """Mimics GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: a JWT for the asked audience, if authorised."""

    def __init__(self, identity, owner: str = "acme"):
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                query = parse_qs(urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                server.requests.append({"path": self.path, "authorization": auth})
                if auth.lower() != f"bearer {REQUEST_TOKEN}":
                    status, body = 401, {"message": "bad request token"}
                else:
                    audience = query.get("audience", ["https://github.com/acme"])[0]
                    status, body = 200, {"value": identity.github_token(owner, aud=audience)}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # GitHub's URL already has a query string; the CLI appends &audience=...
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token?api-version=2.0"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
