"""The approval inbox: deployments and package deployments by approval state, newest first,
each with whether the caller may approve it now (the approvals service's decision)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.errors import BadRequest
from shared.governance.approvals import Approvals
from shared.store.deployments import DeploymentStore
from shared.store.packages import PackageStore

if TYPE_CHECKING:
    from shared.auth import Principal


def encode_token(item: dict[str, Any]) -> str:
    raw = json.dumps([item["created_at"], item["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created_at, item_id = json.loads(base64.urlsafe_b64decode(padded))
        clock.parse(created_at)
        if not isinstance(item_id, str) or not 0 < len(item_id) <= 200:
            raise ValueError(item_id)
        return created_at, item_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            "page_token is not a token this API returned",
            details=[{"field": "page_token", "error": "invalid"}],
        ) from None


def order_key(item: dict[str, Any]) -> tuple[str, str]:
    return clock.to_text(clock.parse(item["created_at"])), item["id"]


class Inbox:
    """What waits for approval (or was approved or rejected) across both kinds of deployment."""

    def __init__(self, approvals: Approvals, deployments: DeploymentStore, packages: PackageStore):
        self.approvals = approvals
        self.deployments = deployments
        self.packages = packages

    def list(
        self,
        org: str,
        principal: Principal,
        approval_status: str,
        limit: int,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page (newest first, by created_at then id) and the next page's token.

        Each kind is read with one indexed query (approval_status, created_at) from the
        cursor on; the two are merged."""
        after = decode_token(page_token) if page_token else None
        found = [
            ("deployment", r)
            for r in self.deployments.by_approval(org, approval_status, limit + 1, after)
        ] + [
            ("package_deployment", r)
            for r in self.packages.by_approval(org, approval_status, limit + 1, after)
        ]
        found.sort(key=lambda pair: order_key(pair[1]), reverse=True)
        policies: dict[str, dict] = {}
        items = [
            self._item(org, kind, record, principal, policies) for kind, record in found[:limit]
        ]
        token = encode_token(found[limit - 1][1]) if len(found) > limit else None
        return items, token

    def _item(self, org, kind, record, principal, policies) -> dict[str, Any]:
        can = self.approvals.can_approve(org, record, principal, policies)
        policy = policies[record.get("environment")]
        item = {
            "kind": kind,
            "id": record["id"],
            "environment": record.get("environment"),
            "created_by": record.get("created_by_actor"),
            "created_at": record.get("created_at"),
            "approval_status": record.get("approval_status"),
            "approvals": record.get("approvals") or [],
            "min_approvals": policy["min_approvals"],
            "can_approve": can,
        }
        if kind == "deployment":
            item.update(name=record.get("name"), version=record.get("version"))
        else:
            item.update(
                name=record.get("package_name"),
                version=record.get("package_version"),
                package_id=record.get("package_id"),
            )
        return item
