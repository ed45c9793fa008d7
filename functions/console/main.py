"""The deployq console (`console`): one page with its script and styles inline, built from
`console/` by `make init`.

It serves that page only; the page calls the deployments, packages and canary APIs itself
(CORS allows this function's origin there), so the console holds no second code path.
Everything is inline so the page works at any path prefix (`.../console` on
cloudfunctions.net, `/` on run.app) and renders after one request; the Content-Security-
Policy allows exactly that script and style by their hashes.
Configuration: DEPLOYMENTS_URL, PACKAGES_URL, CANARY_URL (the packages and canary URLs
are otherwise read from `GET /v1/discovery`), CONSOLE_OAUTH_CLIENT_ID (Google sign-in),
AUTH_ENABLED, CONSOLE_ORGANISATIONS (names offered by the organisation picker).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import flask
import functions_framework
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

STATIC = Path(__file__).resolve().parent / "static"
ROUTES = Map(
    [
        Rule("/health", endpoint="health", methods=["GET"]),
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/index.html", endpoint="page", methods=["GET"]),
    ],
    strict_slashes=False,
)


def config() -> dict:
    """What the page needs to find the APIs and sign people in."""
    auth = os.environ.get("AUTH_ENABLED", "true").strip().lower() not in ("false", "0", "no")
    organisations = os.environ.get("CONSOLE_ORGANISATIONS", "acme")
    return {
        "deployments": os.environ.get("DEPLOYMENTS_URL") or "",
        "packages": os.environ.get("PACKAGES_URL") or None,
        "canary": os.environ.get("CANARY_URL") or None,
        "auth_enabled": auth,
        "client_id": os.environ.get("CONSOLE_OAUTH_CLIENT_ID") or None,
        "organisations": [o.strip().lower() for o in organisations.split(",") if o.strip()],
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


class Page:
    """The built page, assembled once per process: HTML, its gzip form, ETag and policy."""

    def __init__(self, folder: Path):
        if not (folder / "index.html").is_file():
            raise SystemExit(
                f"console assets are missing in {folder}: run `make init` (npm ci && npm run build)"
            )
        settings = config()
        # Nothing inside may end its element early: "</" is escaped in the JSON and the script.
        script = (folder / "app.js").read_text().replace("</script", "<\\/script")
        style = (folder / "app.css").read_text().replace("</style", "<\\/style")
        html = (
            (folder / "index.html")
            .read_text()
            .replace("__CONFIG__", json.dumps(settings).replace("</", "<\\/"))
            .replace("__STYLE__", style)
            .replace("__SCRIPT__", script)
        )
        urls = [settings[k] for k in ("deployments", "packages", "canary")]
        # Origins, not URLs: a CSP source with a path matches that one path only. URLs left
        # to `GET /v1/discovery` are unknown here: allow any https origin then.
        apis = " ".join(sorted({_origin(u) for u in urls if u})) + ("" if all(urls) else " https:")
        self.policy = (
            f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; "
            f"img-src 'self' data:; connect-src 'self' {apis}; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'"
        )
        self.body = html.encode()
        self.zipped = gzip.compress(self.body, 9, mtime=0)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def response(self, request: flask.Request) -> flask.Response:
        headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": self.policy,
            "ETag": self.etag,
            "Referrer-Policy": "no-referrer",
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == self.etag:
            return flask.Response(status=304, headers=headers)
        body = self.body
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = self.zipped
            headers["Content-Encoding"] = "gzip"
        return flask.Response(body, status=200, headers=headers, mimetype="text/html")


PAGE = Page(STATIC)


@functions_framework.http
def console(request: flask.Request):
    """HTTP entry point: the page and /health."""
    try:
        endpoint, _ = ROUTES.bind("localhost").match(request.path, method=request.method)
    except HTTPException as exc:
        code = "method_not_allowed" if exc.code == 405 else "not_found"
        body = {"error": f"no route {request.method} {request.path}", "code": code, "details": []}
        return flask.Response(json.dumps(body), status=exc.code or 404, mimetype="application/json")
    if endpoint == "health":
        return {"status": "healthy"}
    return PAGE.response(request)
