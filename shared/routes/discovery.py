"""`GET /v1/discovery`: where the three HTTP APIs are, so clients need only one URL."""

from __future__ import annotations

import flask

from shared.config import Settings
from shared.web import Context, Route

PATH = "/v1/discovery"


def request_base_url(request: flask.Request, function_name: str | None = None) -> str:
    """The base URL the request came in on: scheme and host as the client used them.

    Google's front end terminates TLS (`X-Forwarded-Proto`); on a `cloudfunctions.net`
    host it strips the function's name from the path, so it is put back.
    """
    proto = (request.headers.get("X-Forwarded-Proto") or request.scheme).split(",")[0].strip()
    host = (request.headers.get("X-Forwarded-Host") or request.host).split(",")[0].strip()
    prefix = ""
    if function_name and host.split(":")[0].endswith(".cloudfunctions.net"):
        prefix = f"/{function_name}"
    return f"{proto}://{host}{prefix}".rstrip("/")


def routes(settings: Settings, function_name: str | None = None) -> list[Route]:
    """The public discovery route of the deployments function."""

    def discovery(ctx: Context) -> dict[str, str | None]:
        return {
            "deployments": request_base_url(ctx.request, function_name),
            "packages": settings.packages_url,
            "canary": settings.canary_url,
        }

    return [
        Route(
            PATH,
            "GET",
            discovery,
            auth="public",
            response="shared.schemas.responses:Discovery",
            summary="URLs of the deployments, packages and canary APIs (no token)",
        )
    ]
