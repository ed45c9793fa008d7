"""Data packages (`packages`): pack, generate, import, deploy (now or as a job), roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask
import functions_framework

from shared import logs
from shared.config import load_settings_or_exit
from shared.errors import BadRequest, Forbidden, field_error
from shared.governance.approvals import APPROVED, REJECTED
from shared.lazy import Lazy
from shared.models.job import public_job
from shared.models.package import public_action, public_deployment, public_package
from shared.packages import upload
from shared.packages.service import Packages
from shared.web import Api, Context, Raw, Route

if TYPE_CHECKING:
    from shared.schemas.package import DeploymentListQuery, PackageListQuery, PageQuery

SUBSET_FIELDS = ("tables", "collections", "where_clause")
# The request and response shapes load when a route first needs them.
P = "shared.schemas.package:"
G = "shared.schemas.governance:"
R = "shared.schemas.responses:"
SETTINGS = load_settings_or_exit()
logs.configure(SETTINGS.project)
MAX_IMPORT_BODY = 32 * 1024 * 1024  # Cloud Functions' request limit
service = Lazy(lambda: Packages(SETTINGS))


def list_packages(ctx: Context):
    q: PackageListQuery = ctx.query
    filters = q.model_dump(mode="json", include={"package_type", "environment", "status"})
    records = service().store.list_packages(ctx.org, filters, q.limit, q.offset)
    return {
        "packages": [public_package(r) for r in records],
        "count": len(records),
        "limit": q.limit,
        "offset": q.offset,
    }


def create_package(ctx: Context):
    record = service().create(ctx.org, ctx.body, ctx.actor, ctx.principal, ctx.meta)
    return {"package": public_package(record), "message": "Package created successfully"}, 201


def get_package(ctx: Context, package_id: str):
    package, recent = service().get(ctx.org, package_id)
    return {
        "package": public_package(package),
        "recent_actions": [public_action(a) for a in recent],
    }


def update_package(ctx: Context, package_id: str):
    changes = ctx.body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise BadRequest(
            "nothing to change: give description, status, tags or metadata", code="empty_body"
        )
    service().update(ctx.org, package_id, changes, ctx.principal, ctx.meta)
    return {"message": "Package updated successfully", "package_id": package_id}


def delete_package(ctx: Context, package_id: str):
    service().delete(ctx.org, package_id, ctx.principal, ctx.meta)
    return {"message": "Package deleted successfully", "package_id": package_id}


def generate(ctx: Context, package_id: str):
    from shared.schemas.package import GenerateRequest

    request: GenerateRequest = ctx.body or GenerateRequest()
    # The file is always the whole (checksummed) package: never quietly less than asked.
    for name in SUBSET_FIELDS:
        if (ctx.json or {}).get(name):
            raise field_error(
                name,
                f"generate always writes the whole package; {name} is chosen when the "
                "package is created (POST /v1/packages)",
                code="subset_not_supported",
            )
    if request.run_as_background:
        job = service().generate_in_background(
            ctx.org, package_id, request.format, ctx.actor, ctx.principal, ctx.meta
        )
        return {
            "message": "Generation job created",
            "job_id": job["job_id"],
            "status": job["status"],
        }, 202
    stream, mimetype, name = service().generate(ctx.org, package_id, request.format, ctx.actor)
    return flask.Response(
        flask.stream_with_context(stream),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def import_package(ctx: Context):
    if ctx.raw is not None:
        data, environment = service().read_upload(ctx.raw), ctx.request.args.get("environment")
    else:
        data, environment = ctx.body.package_data, ctx.body.environment
    upload.check_package(data)
    record = service().import_package(
        ctx.org, data, environment, ctx.actor, ctx.principal, ctx.meta
    )
    return {"message": "Package imported successfully", "package": public_package(record)}, 201


def deploy(ctx: Context, package_id: str):
    if ctx.body.override_reason is not None and not ctx.principal.has_role("admin"):
        raise Forbidden("only admins may pass a freeze window with override_reason")
    deployed = service().deploy(
        ctx.org,
        package_id,
        ctx.body,
        ctx.actor,
        ctx.idempotency_key,
        principal=ctx.principal,
        meta=ctx.meta,
    )
    if deployed.waiting:
        return {
            "message": "Deployment waits for approval; nothing was written",
            "deployment": public_deployment(deployed.deployment),
        }, 202
    if deployed.job is not None:
        job = deployed.job
        message = (
            "Deployment job created" if deployed.job_created else "Deployment job already exists"
        )
        return {
            "message": message,
            "job_id": job["job_id"],
            "status": job["status"],
            "scheduled_at": job["scheduled_at"],
        }, 202
    deployment = deployed.deployment
    message = (
        "Dry run completed; nothing was written"
        if deployment["dry_run"]
        else "Package deployed successfully"
    )
    return {"message": message, "deployment": public_deployment(deployment)}


def list_actions(ctx: Context, package_id: str):
    q: PageQuery = ctx.query
    records = service().actions(ctx.org, package_id, q.limit, q.offset)
    return {"actions": [public_action(a) for a in records], "count": len(records)}


def list_deployments(ctx: Context):
    q: DeploymentListQuery = ctx.query
    filters = q.model_dump(include={"environment", "is_active", "package_id"})
    records = service().store.list_deployments(ctx.org, filters, q.limit, q.offset)
    return {
        "deployments": [public_deployment(r) for r in records],
        "count": len(records),
        "limit": q.limit,
        "offset": q.offset,
    }


def get_deployment(ctx: Context, deployment_id: str):
    return {"deployment": public_deployment(service().store.get_deployment(ctx.org, deployment_id))}


def rollback(ctx: Context, deployment_id: str):
    done = service().rollback(ctx.org, deployment_id, ctx.actor, ctx.principal, ctx.meta)
    if done.waiting:
        return {
            "message": "Rollback waits for approval; nothing was restored yet",
            "deployment": public_deployment(done.deployment),
        }, 202
    return {"message": "Deployment rolled back", "deployment": public_deployment(done.deployment)}


def approve(ctx: Context, deployment_id: str):
    comment = ctx.body.comment if ctx.body is not None else None
    record = service().decide(ctx.org, deployment_id, ctx.principal, APPROVED, comment, ctx.meta)
    return {"message": "Deployment approved", "deployment": public_deployment(record)}


def reject(ctx: Context, deployment_id: str):
    record = service().decide(
        ctx.org, deployment_id, ctx.principal, REJECTED, ctx.body.comment, ctx.meta
    )
    return {"message": "Deployment rejected", "deployment": public_deployment(record)}


def get_job(ctx: Context, job_id: str):
    return public_job(service().jobs.get(ctx.org, job_id))


def cancel_job(ctx: Context, job_id: str):
    job = service().cancel_job(ctx.org, job_id, ctx.principal, ctx.meta)
    if job["status"] == "cancelled":
        return {"message": "Job cancelled", "job_id": job_id, "status": job["status"]}
    return {
        "message": "Job is stopping: it undoes what it wrote at its next batch",
        "job_id": job_id,
        "status": job["status"],
    }, 202


API = Api(
    "deployq packages",
    SETTINGS,
    [
        Route(
            "/v1/packages",
            "GET",
            list_packages,
            query=P + "PackageListQuery",
            response=R + "PackageList",
            summary="list packages, newest first",
        ),
        Route(
            "/v1/packages",
            "POST",
            create_package,
            role="deployer",
            body=P + "PackageCreate",
            status=201,
            response=R + "PackageCreated",
            summary="pack tables/collections of a source environment",
        ),
        Route(
            "/v1/packages/import",
            "POST",
            import_package,
            role="deployer",
            body=P + "ImportRequest",
            raw_body=("application/zip",),
            max_body=MAX_IMPORT_BODY,
            max_depth=upload.MAX_FILE_DEPTH + 1,  # {"package_data": <the file>}
            max_values=upload.MAX_VALUES,
            status=201,
            response=R + "PackageCreated",
            summary="import a generated package (JSON body or the ZIP)",
        ),
        Route(
            "/v1/packages/<package_id>",
            "GET",
            get_package,
            response=R + "PackageDetail",
            summary="one package",
        ),
        Route(
            "/v1/packages/<package_id>",
            "PUT",
            update_package,
            role="deployer",
            body=P + "PackageUpdate",
            response=R + "PackageChanged",
            summary="change description, status, tags or metadata",
        ),
        Route(
            "/v1/packages/<package_id>",
            "DELETE",
            delete_package,
            role="deployer",
            response=R + "PackageChanged",
            summary="soft-delete a package",
        ),
        Route(
            "/v1/packages/<package_id>/generate",
            "POST",
            generate,
            role="deployer",
            body=P + "GenerateRequest",
            body_optional=True,
            response={200: Raw(("application/json", "application/zip")), 202: R + "JobAccepted"},
            summary="download the package as JSON or ZIP",
        ),
        Route(
            "/v1/packages/<package_id>/deploy",
            "POST",
            deploy,
            role="deployer",
            body=P + "DeployRequest",
            response={
                200: R + "PackageDeploymentAnswer",
                202: R + "JobAcceptedOrWaiting",
            },
            summary="deploy now, in the background or at schedule_at (or wait for approval)",
        ),
        Route(
            "/v1/packages/<package_id>/actions",
            "GET",
            list_actions,
            query=P + "PageQuery",
            response=R + "PackageActionList",
            summary="the package's action history, newest first",
        ),
        Route(
            "/v1/package-deployments",
            "GET",
            list_deployments,
            query=P + "DeploymentListQuery",
            response=R + "PackageDeploymentList",
            summary="list package deployments, newest first",
        ),
        Route(
            "/v1/package-deployments/<deployment_id>",
            "GET",
            get_deployment,
            response=R + "PackageDeploymentAnswer",
            summary="one package deployment",
        ),
        Route(
            "/v1/package-deployments/<deployment_id>/rollback",
            "POST",
            rollback,
            role="deployer",
            response={200: R + "PackageDeploymentAnswer", 202: R + "PackageDeploymentAnswer"},
            summary="restore what a deployment changed (or wait for approval)",
        ),
        Route(
            "/v1/package-deployments/<deployment_id>/approve",
            "POST",
            approve,
            role="viewer",
            body=G + "ApproveBody",
            body_optional=True,
            response=R + "PackageDeploymentAnswer",
            summary="approve a package deployment waiting for approval",
        ),
        Route(
            "/v1/package-deployments/<deployment_id>/reject",
            "POST",
            reject,
            role="viewer",
            body=G + "RejectBody",
            response=R + "PackageDeploymentAnswer",
            summary="reject a package deployment waiting for approval (nothing is written)",
        ),
        Route("/v1/jobs/<job_id>", "GET", get_job, response=R + "Job", summary="a background job"),
        Route(
            "/v1/jobs/<job_id>",
            "DELETE",
            cancel_job,
            role="deployer",
            response={200: R + "JobAccepted", 202: R + "JobAccepted"},
            summary="cancel a background job",
        ),
    ],
)


@functions_framework.http
def packages(request):
    """HTTP entry point of the packages function."""
    return API.handle(request)
