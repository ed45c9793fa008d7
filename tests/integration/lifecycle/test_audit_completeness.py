"""Every mutating route of every function leaves exactly one audit entry naming who did
what to which resource (contract item 21).

The routes come from each function's own OpenAPI document: a new route without a row in
CALLS (or a reason in EXEMPT) fails this test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import make_client
from tests.integration.packages.test_deploy import make_package
from tests.support.canary import canary_body
from tests.support.governance import drain
from tests.support.packages import database

MUTATING = {"post", "put", "patch", "delete"}
FUNCTIONS = ("deployments", "packages", "canary", "worker")
# Internal endpoints (Cloud Scheduler, Cloud Tasks) change no resource for a caller; what
# they do for users is audited as the worker's (`on_behalf_of`) events of those resources.
EXEMPT = {
    ("deployments", "POST", "/v1/events:sweep"): "publishes events already audited",
    ("canary", "POST", "/v1/canaries:sweep"): "runs due checks; their changes are audited",
    ("canary", "POST", "/v1/canaries/{canary_id}:check"): "one check; audited as above",
    ("worker", "POST", "/tasks/run"): "runs a job: job.finished and its resource's events",
    ("worker", "POST", "/tasks/sweep"): "re-sends stalled jobs; no resource changes",
}
WEB = {"name": "web", "provider": "gcp", "cloud_account_id": "p1", "region": "eu", "type": "k8s"}
API = {**WEB, "name": "api"}


def routes(clients) -> set[tuple[str, str, str]]:
    found = set()
    for name in FUNCTIONS:
        document = clients[name].get("/openapi.json").get_json()
        for path, operations in document["paths"].items():
            for method in operations:
                if method in MUTATING:
                    found.add((name, method.upper(), path))
    return found


class Run:
    """The clients, headers and the ids the calls leave for later calls."""

    def __init__(self, clients, as_, platform, project):
        self.c, self.as_, self.platform, self.project = clients, as_, platform, project
        self.ids: dict[str, Any] = {}

    def ok(self, response, *statuses):
        assert response.status_code in (statuses or (200, 201, 202, 204)), (
            response.status_code,
            response.get_json(),
        )
        return response.get_json()

    def deployment(self, version, environment="staging", taxonomy=WEB, status=None):
        record = self.ok(
            self.c["deployments"].post(
                "/v1/deployments",
                json={**taxonomy, "version": version, "environment": environment},
                headers=self.as_("deployer"),
            )
        )
        if status:
            self.ok(
                self.c["deployments"].patch(
                    f"/v1/deployments/{record['id']}",
                    json={"status": status},
                    headers=self.as_("deployer"),
                )
            )
        return record


Call = Callable[[Run], tuple[str, str, str]]


def put_policy(r: Run):
    r.ok(r.c["deployments"].put("/v1/policies/staging", json={}, headers=r.as_("admin")))
    return "deployq.policy.updated", "policy", "staging"


def put_settings(r: Run):
    body = {"slack_webhook_url": None}
    r.ok(r.c["deployments"].put("/v1/settings/notifications", json=body, headers=r.as_("admin")))
    return "deployq.settings.updated", "settings", "notifications"


def create_runbook(r: Run):
    body = {"title": "Web is down", "content": "restart it", "service": "web"}
    runbook = r.ok(r.c["deployments"].post("/v1/runbooks", json=body, headers=r.as_("deployer")))
    r.ids["runbook"] = runbook["id"]
    return "deployq.runbook.created", "runbook", runbook["id"]


def replace_runbook(r: Run):
    body = {"title": "Web is down", "content": "restart it twice"}
    path = f"/v1/runbooks/{r.ids['runbook']}"
    r.ok(r.c["deployments"].put(path, json=body, headers=r.as_("deployer")))
    return "deployq.runbook.updated", "runbook", r.ids["runbook"]


def delete_runbook(r: Run):
    r.ok(r.c["deployments"].delete(f"/v1/runbooks/{r.ids['runbook']}", headers=r.as_("deployer")))
    return "deployq.runbook.deleted", "runbook", r.ids["runbook"]


def create_deployment(r: Run):
    record = r.deployment("1")
    r.ids["v1"] = record["id"]
    return "deployq.deployment.created", "deployment", record["id"]


def patch_deployment(r: Run):
    path = f"/v1/deployments/{r.ids['v1']}"
    r.ok(r.c["deployments"].patch(path, json={"status": "deployed"}, headers=r.as_("deployer")))
    return "deployq.deployment.status_changed", "deployment", r.ids["v1"]


def claim(r: Run):
    record = r.deployment("2")
    body = {**WEB}
    claimed = r.ok(
        r.c["deployments"].post("/v1/deployments/claim", json=body, headers=r.as_("deployer"))
    )
    assert claimed["id"] == record["id"]
    r.ids["v2"] = record["id"]
    return "deployq.deployment.status_changed", "deployment", record["id"]


def rollback_deployment(r: Run):
    r.ok(
        r.c["deployments"].patch(
            f"/v1/deployments/{r.ids['v2']}", json={"status": "deployed"}, headers=r.as_("deployer")
        )
    )
    path = f"/v1/deployments/{r.ids['v2']}/rollback"
    record = r.ok(r.c["deployments"].post(path, headers=r.as_("deployer")))
    return "deployq.deployment.created", "deployment", record["id"]


def rollback_taxonomy(r: Run):
    r.deployment("1", taxonomy=API, status="deployed")
    r.deployment("2", taxonomy=API, status="deployed")
    query = "name=api&provider=gcp&cloud_account_id=p1&region=eu"
    record = r.ok(
        r.c["deployments"].post(f"/v1/deployments/rollback?{query}", headers=r.as_("deployer"))
    )
    return "deployq.deployment.created", "deployment", record["id"]


def protect_production(r: Run):
    body = {"requires_approval": True}
    r.ok(r.c["deployments"].put("/v1/policies/production", json=body, headers=r.as_("admin")))


def approve_deployment(r: Run):
    protect_production(r)
    record = r.deployment("3", environment="production")
    path = f"/v1/deployments/{record['id']}/approve"
    r.ok(r.c["deployments"].post(path, headers=r.as_("approver")))
    return "deployq.deployment.approved", "deployment", record["id"]


def reject_deployment(r: Run):
    record = r.deployment("4", environment="production")
    path = f"/v1/deployments/{record['id']}/reject"
    r.ok(r.c["deployments"].post(path, json={"comment": "no"}, headers=r.as_("approver")))
    return "deployq.deployment.rejected", "deployment", record["id"]


def patch_organisation(r: Run):
    body = {"members": [{"email": "newcomer@example.com", "role": "viewer"}]}
    own = r.ok(r.c["deployments"].get("/v1/organisation", headers=r.as_("admin")))
    body = {"members": [*own["members"], *body["members"]]}
    r.ok(r.c["deployments"].patch("/v1/organisation", json=body, headers=r.as_("admin")))
    return "deployq.organisation.updated", "organisation", "acme"


def put_organisation(r: Run):
    body = {"members": [{"email": "boss@example.com", "role": "admin"}]}
    r.ok(r.c["deployments"].put("/v1/organisations/beta", json=body, headers=r.platform))
    return "deployq.organisation.updated", "organisation", "beta"


def delete_organisation(r: Run):
    r.ok(r.c["deployments"].delete("/v1/organisations/beta", headers=r.platform))
    return "deployq.organisation.updated", "organisation", "beta"


def create_package(r: Run):
    package = make_package(r.c["packages"], r.as_("deployer"), database(r.project, "dev"))
    r.ids["package"] = package["id"]
    return "deployq.package.created", "package", package["id"]


def update_package(r: Run):
    path = f"/v1/packages/{r.ids['package']}"
    r.ok(r.c["packages"].put(path, json={"description": "shop data"}, headers=r.as_("deployer")))
    return "deployq.package.updated", "package", r.ids["package"]


def generate(r: Run):
    path = f"/v1/packages/{r.ids['package']}/generate"
    body = {"run_as_background": True}
    job = r.ok(r.c["packages"].post(path, json=body, headers=r.as_("deployer")))
    return "deployq.job.created", "job", job["job_id"]


def import_package(r: Run):
    path = f"/v1/packages/{r.ids['package']}/generate"
    data = r.c["packages"].post(path, json={}, headers=r.as_("deployer")).get_json()
    body = {"package_data": data}
    created = r.ok(
        r.c["packages"].post("/v1/packages/import", json=body, headers=r.as_("deployer"))
    )
    return "deployq.package.imported", "package", created["package"]["id"]


def deploy(r: Run):
    path = f"/v1/packages/{r.ids['package']}/deploy"
    done = r.ok(
        r.c["packages"].post(path, json={"environment": "staging"}, headers=r.as_("deployer"))
    )
    r.ids["package_deployment"] = done["deployment"]["id"]
    return "deployq.package_deployment.started", "package_deployment", done["deployment"]["id"]


def rollback_package(r: Run):
    path = f"/v1/package-deployments/{r.ids['package_deployment']}/rollback"
    r.ok(r.c["packages"].post(path, headers=r.as_("deployer")))
    return (
        "deployq.package_deployment.rolled_back",
        "package_deployment",
        r.ids["package_deployment"],
    )


def waiting_package_deployment(r: Run) -> str:
    path = f"/v1/packages/{r.ids['package']}/deploy"
    body = {"environment": "production", "options": {"dry_run": False}}
    waiting = r.ok(r.c["packages"].post(path, json=body, headers=r.as_("deployer")), 202)
    return waiting["deployment"]["id"]


def approve_package(r: Run):
    deployment_id = waiting_package_deployment(r)
    path = f"/v1/package-deployments/{deployment_id}/approve"
    r.ok(r.c["packages"].post(path, headers=r.as_("approver")))
    return "deployq.package_deployment.approved", "package_deployment", deployment_id


def reject_package(r: Run):
    deployment_id = waiting_package_deployment(r)
    path = f"/v1/package-deployments/{deployment_id}/reject"
    r.ok(r.c["packages"].post(path, json={"comment": "no"}, headers=r.as_("approver")))
    return "deployq.package_deployment.rejected", "package_deployment", deployment_id


def cancel_job(r: Run):
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    path = f"/v1/packages/{r.ids['package']}/deploy"
    body = {"environment": "staging", "schedule_at": at}
    job = r.ok(r.c["packages"].post(path, json=body, headers=r.as_("deployer")), 202)
    r.ok(r.c["packages"].delete(f"/v1/jobs/{job['job_id']}", headers=r.as_("deployer")))
    return "deployq.job.cancelled", "job", job["job_id"]


def delete_package(r: Run):
    path = f"/v1/packages/{r.ids['package']}"
    r.ok(r.c["packages"].delete(path, headers=r.as_("deployer")))
    return "deployq.package.deleted", "package", r.ids["package"]


def start_canary(r: Run):
    body = canary_body("web", "web-2", environment="staging", step_minutes=5)
    canary = r.ok(r.c["canary"].post("/v1/canaries", json=body, headers=r.as_("deployer")))
    r.ids["canary"] = canary["id"]
    return "deployq.canary.started", "canary", canary["id"]


def promote_canary(r: Run):
    path = f"/v1/canaries/{r.ids['canary']}/promote"
    r.ok(r.c["canary"].post(path, headers=r.as_("deployer")))
    return "deployq.canary.promoted", "canary", r.ids["canary"]


def abort_canary(r: Run):
    body = canary_body("web", "web-3", environment="staging", step_minutes=5)
    canary = r.ok(r.c["canary"].post("/v1/canaries", json=body, headers=r.as_("deployer")))
    r.ok(r.c["canary"].post(f"/v1/canaries/{canary['id']}/abort", headers=r.as_("deployer")))
    return "deployq.canary.aborted", "canary", canary["id"]


CALLS: dict[tuple[str, str, str], Call] = {
    ("deployments", "PUT", "/v1/policies/{environment}"): put_policy,
    ("deployments", "PUT", "/v1/settings/notifications"): put_settings,
    ("deployments", "POST", "/v1/runbooks"): create_runbook,
    ("deployments", "PUT", "/v1/runbooks/{runbook_id}"): replace_runbook,
    ("deployments", "DELETE", "/v1/runbooks/{runbook_id}"): delete_runbook,
    ("deployments", "POST", "/v1/deployments"): create_deployment,
    ("deployments", "PATCH", "/v1/deployments/{deployment_id}"): patch_deployment,
    ("deployments", "POST", "/v1/deployments/claim"): claim,
    ("deployments", "POST", "/v1/deployments/{deployment_id}/rollback"): rollback_deployment,
    ("deployments", "POST", "/v1/deployments/rollback"): rollback_taxonomy,
    ("deployments", "POST", "/v1/deployments/{deployment_id}/approve"): approve_deployment,
    ("deployments", "POST", "/v1/deployments/{deployment_id}/reject"): reject_deployment,
    ("deployments", "PATCH", "/v1/organisation"): patch_organisation,
    ("deployments", "PUT", "/v1/organisations/{org}"): put_organisation,
    ("deployments", "DELETE", "/v1/organisations/{org}"): delete_organisation,
    ("packages", "POST", "/v1/packages"): create_package,
    ("packages", "PUT", "/v1/packages/{package_id}"): update_package,
    ("packages", "POST", "/v1/packages/{package_id}/generate"): generate,
    ("packages", "POST", "/v1/packages/import"): import_package,
    ("packages", "POST", "/v1/packages/{package_id}/deploy"): deploy,
    ("packages", "POST", "/v1/package-deployments/{deployment_id}/rollback"): rollback_package,
    ("packages", "POST", "/v1/package-deployments/{deployment_id}/approve"): approve_package,
    ("packages", "POST", "/v1/package-deployments/{deployment_id}/reject"): reject_package,
    ("packages", "DELETE", "/v1/jobs/{job_id}"): cancel_job,
    ("packages", "DELETE", "/v1/packages/{package_id}"): delete_package,
    ("canary", "POST", "/v1/canaries"): start_canary,
    ("canary", "POST", "/v1/canaries/{canary_id}/promote"): promote_canary,
    ("canary", "POST", "/v1/canaries/{canary_id}/abort"): abort_canary,
}


def audit_entries(db, org: str) -> dict[str, dict[str, Any]]:
    ref = db.collection("organisations").document(org).collection("audit_logs")
    return {s.id: s.to_dict() for s in ref.stream()}


def test_every_mutating_route_is_audited(
    api, deployments, canaries, as_, platform, project, db, events
):
    clients = {
        "deployments": deployments,
        "packages": api,
        "canary": canaries,
        "worker": make_client("worker"),
    }
    assert routes(clients) == set(CALLS) | set(EXEMPT), "a mutating route needs a row"
    run = Run(clients, as_, platform, project)
    seen = {org: set(audit_entries(db, org)) for org in ("acme", "beta")}
    for key, call in CALLS.items():
        action, resource_type, resource_id = call(run)
        fresh = []
        for org in ("acme", "beta"):
            drain(db, events, org)
            entries = audit_entries(db, org)
            fresh += [e for k, e in entries.items() if k not in seen[org]]
            seen[org] = set(entries)
        matching = [
            e
            for e in fresh
            if (e["action"], e["resource_type"], e["resource_id"])
            == (action, resource_type, resource_id)
        ]
        assert len(matching) == 1, (key, [(e["action"], e["resource_id"]) for e in fresh])
        assert matching[0]["actor"], key
