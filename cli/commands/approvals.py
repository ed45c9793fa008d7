"""`deployq approvals`: the approval inbox, and approving or rejecting what waits in it.

    deployq approvals [--status pending|approved|rejected] [--all]
    deployq approvals approve ID [--comment TEXT]
    deployq approvals reject ID --comment TEXT

ID is a deployment or a package deployment: the inbox says which it is.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands import leaf
from cli.errors import UsageError
from cli.runtime import Runtime

COLUMNS = [
    "kind",
    "id",
    "name",
    "version",
    ("environment", "ENV"),
    ("approval_status", "APPROVAL"),
    ("approved", "APPROVALS"),
    ("can_approve", "YOU"),
    ("created_by", "BY"),
    ("created_at", "CREATED"),
]


def _pages(rt: Runtime, status: str, limit: int | None, follow: bool, token: str | None = None):
    params: dict[str, Any] = {"status": status, "limit": limit, "page_token": token}
    items: list[dict[str, Any]] = []
    while True:
        response = rt.client("deployments").request("GET", "/v1/approvals", params=params)
        items.extend(response.json())
        token = response.headers.get("X-Next-Page-Token")
        if not (follow and token):
            return items, token
        params["page_token"] = token


def list_approvals(rt: Runtime) -> int:
    a = rt.args
    items, token = _pages(rt, a.status, a.limit, a.all, a.page_token)

    def render(rows: list[dict[str, Any]]) -> None:
        shown = [
            {
                **row,
                "approved": f"{sum(1 for x in row['approvals'] if x.get('decision') == 'approved')}"
                f"/{row['min_approvals']}",
                "can_approve": "yes" if row["can_approve"] else "no",
            }
            for row in rows
        ]
        rt.table(shown, COLUMNS)

    rt.emit(items, render)
    if token and not a.all:
        rt.progress(f"more items: --page-token {token} (or --all)")
    return 0


def kind_of(rt: Runtime, item_id: str) -> str:
    """`deployment` or `package_deployment`, as the inbox lists `item_id`."""
    for status in ("pending", "approved", "rejected"):
        items, _ = _pages(rt, status, 1000, True)
        for item in items:
            if item["id"] == item_id:
                return item["kind"]
    raise UsageError(f"{item_id} is not in the approval inbox (deployq approvals --status ...)")


def _decide(rt: Runtime, decision: str, body: dict[str, Any] | None) -> int:
    item_id = rt.args.id
    if kind_of(rt, item_id) == "deployment":
        answer = rt.client("deployments").call(
            "POST", f"/v1/deployments/{item_id}/{decision}", json=body
        )
    else:
        answer = rt.client("packages").call(
            "POST", f"/v1/package-deployments/{item_id}/{decision}", json=body
        )["deployment"]

    def render(data: dict[str, Any]) -> None:
        rt.say(
            f"{item_id}: status {data.get('status')}, approval {data.get('approval_status')}"
            + (f", job {data['job_id']}" if data.get("job_id") else "")
        )

    rt.emit(answer, render)
    return 0


def approve(rt: Runtime) -> int:
    return _decide(rt, "approve", {"comment": rt.args.comment} if rt.args.comment else None)


def reject(rt: Runtime) -> int:
    return _decide(rt, "reject", {"comment": rt.args.comment})


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    help_ = "the approval inbox: what waits for approval, approve or reject it"
    parser = commands.add_parser("approvals", parents=[common], help=help_, description=help_)
    parser.set_defaults(func=list_approvals)
    parser.add_argument("--status", choices=("pending", "approved", "rejected"), default="pending")
    parser.add_argument("--limit", type=int, default=None, help="page size (1..1000)")
    parser.add_argument("--page-token", help="continue from X-Next-Page-Token")
    parser.add_argument("--all", action="store_true", help="follow every page")
    sub = parser.add_subparsers(dest="approvals_command", metavar="COMMAND")
    sub.required = False

    p = leaf(sub, common, "approve", approve, "approve a deployment or package deployment")
    p.add_argument("id")
    p.add_argument("--comment")
    p = leaf(sub, common, "reject", reject, "reject a deployment or package deployment")
    p.add_argument("id")
    p.add_argument("--comment", required=True)
