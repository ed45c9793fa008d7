"""Organisation routes of the deployments function: platform admins' records, an
organisation's own record for its admins, and `GET /v1/me`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.web import Context, Route

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.organisations.service import OrganisationService
    from shared.schemas.organisation import OrganisationListQuery

TAGS = ("organisations",)
# The models load when one of these routes is first served.
M = "shared.schemas.organisation:"


def routes(settings: Settings) -> list[Route]:
    """The routes, bound to the process's organisation service (loaded on first use)."""

    def service() -> OrganisationService:
        from shared.organisations.service import organisations_for

        return organisations_for(settings)

    return platform_routes(service) + own_routes(service)


def route(*args, **fields) -> Route:
    return Route(*args, tags=TAGS, **fields)


def platform_routes(service: Callable[[], OrganisationService]) -> list[Route]:
    """Platform admins' routes: every organisation's record."""

    def put_organisation(ctx: Context, org: str):
        return service().put(org, ctx.body, ctx.principal, ctx.meta)

    def get_organisation(ctx: Context, org: str):
        from shared.organisations.service import check_org

        return service().record(check_org(org))

    def delete_organisation(ctx: Context, org: str):
        service().delete(org, ctx.principal, ctx.meta)
        return None, 204

    def list_organisations(ctx: Context):
        q: OrganisationListQuery = ctx.query
        records, next_token = service().list(q.limit, q.page_token)
        return records, 200, {"X-Next-Page-Token": next_token} if next_token else {}

    return [
        route(
            "/v1/organisations",
            "GET",
            list_organisations,
            auth="platform",
            query=M + "OrganisationListQuery",
            response=[M + "Organisation"],
            summary="list organisation records (platform admins)",
        ),
        route(
            "/v1/organisations/<org>",
            "PUT",
            put_organisation,
            auth="platform",
            body=M + "OrganisationBody",
            response=M + "Organisation",
            summary="create or replace an organisation record (platform admins)",
        ),
        route(
            "/v1/organisations/<org>",
            "GET",
            get_organisation,
            auth="platform",
            response=M + "Organisation",
            summary="one organisation record (platform admins)",
        ),
        route(
            "/v1/organisations/<org>",
            "DELETE",
            delete_organisation,
            auth="platform",
            status=204,
            summary="remove an organisation's grants (platform admins; its data stays)",
        ),
    ]


def own_routes(service: Callable[[], OrganisationService]) -> list[Route]:
    """The caller's own organisation: its record, its admins' change, and `GET /v1/me`."""

    def own_organisation(ctx: Context):
        return service().record(ctx.org)

    def patch_own_organisation(ctx: Context):
        return service().patch(ctx.org, ctx.json, ctx.principal, ctx.meta)

    def me(ctx: Context):
        p = ctx.principal
        return {
            "kind": p.kind,
            "organisation": p.organisation,
            "actor": p.actor or p.subject,
            "role": p.role,
            "person": dict(p.person) if p.person else None,
        }

    return [
        route(
            "/v1/organisation",
            "GET",
            own_organisation,
            response=M + "Organisation",
            summary="the caller's organisation record",
        ),
        route(
            "/v1/organisation",
            "PATCH",
            patch_own_organisation,
            role="admin",
            body=M + "OrganisationPatchRequest",
            response=M + "Organisation",
            summary="change members and github.rules (organisation admins)",
        ),
        route(
            "/v1/me",
            "GET",
            me,
            response=M + "Me",
            summary="who the caller is: kind, organisation, actor, role, person",
        ),
    ]
