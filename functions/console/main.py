"""The deployq console (`console`): the single page and its assets, built from `console/`.

It serves files only; the page calls the deployments, packages and canary APIs itself
(CORS allows this function's origin there), so the console holds no second code path.
Configuration: DEPLOYMENTS_URL, PACKAGES_URL, CANARY_URL (the packages and canary URLs
are otherwise read from `GET /v1/discovery`), CONSOLE_OAUTH_CLIENT_ID (Google sign-in),
AUTH_ENABLED, CONSOLE_ORGANISATIONS (names offered by the organisation picker).
"""

from __future__ import annotations

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
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
ROUTES = Map(
    [
        Rule("/health", endpoint="health", methods=["GET"]),
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/index.html", endpoint="page", methods=["GET"]),
        Rule("/assets/<any('app.js', 'app.css'):name>", endpoint="asset", methods=["GET"]),
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


class Assets:
    """The built files, read once per process, each with its gzip form and content hash."""

    def __init__(self, folder: Path):
        if not (folder / "index.html").is_file():
            raise SystemExit(
                f"console assets are missing in {folder}: run `make init` (npm ci && npm run build)"
            )
        self.files: dict[str, tuple[bytes, bytes, str]] = {}
        for name in ("app.js", "app.css"):
            self.files[name] = self._entry((folder / name).read_bytes())
        settings = config()
        html = (folder / "index.html").read_text()
        for name, (_, _, digest) in self.files.items():
            html = html.replace(f"assets/{name}", f"assets/{name}?v={digest}")
        # "</" cannot end the JSON script element early once escaped.
        html = html.replace("__CONFIG__", json.dumps(settings).replace("</", "<\\/"))
        self.files["index.html"] = self._entry(html.encode())
        urls = [settings[k] for k in ("deployments", "packages", "canary")]
        # Origins, not URLs: a CSP source with a path matches that one path only. URLs left
        # to `GET /v1/discovery` are unknown here: allow any https origin then.
        origins = sorted({_origin(u) for u in urls if u})
        apis = " ".join(origins) + ("" if all(urls) else " https:")
        self.policy = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {apis}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self' https://accounts.google.com"
        )

    @staticmethod
    def _entry(data: bytes) -> tuple[bytes, bytes, str]:
        return data, gzip.compress(data, 9, mtime=0), hashlib.sha256(data).hexdigest()[:12]

    def response(self, request: flask.Request, name: str) -> flask.Response:
        data, zipped, digest = self.files[name]
        headers = {"X-Content-Type-Options": "nosniff", "ETag": f'"{digest}"'}
        if name == "index.html":
            headers["Cache-Control"] = "no-cache"
            headers["Content-Security-Policy"] = self.policy
            headers["Referrer-Policy"] = "no-referrer"
        else:
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
        if request.headers.get("If-None-Match") == f'"{digest}"':
            return flask.Response(status=304, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            data = zipped
            headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
        mimetype = TYPES[Path(name).suffix]
        return flask.Response(data, status=200, headers=headers, mimetype=mimetype)


ASSETS = Assets(STATIC)


@functions_framework.http
def console(request: flask.Request):
    """HTTP entry point: the page, its two assets and /health."""
    try:
        endpoint, args = ROUTES.bind("localhost").match(request.path, method=request.method)
    except HTTPException as exc:
        code = "method_not_allowed" if exc.code == 405 else "not_found"
        body = {"error": f"no route {request.method} {request.path}", "code": code, "details": []}
        return flask.Response(json.dumps(body), status=exc.code or 404, mimetype="application/json")
    if endpoint == "health":
        return {"status": "healthy"}
    if endpoint == "page":
        return ASSETS.response(request, "index.html")
    return ASSETS.response(request, args["name"])
