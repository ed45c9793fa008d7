"""Notifications of failures and rollbacks to a Slack-compatible incoming webhook."""

from __future__ import annotations

from typing import Any

import requests

from shared import webhooks


def message_for(event: dict[str, Any]) -> str | None:
    """The text announcing an event, or None when it is not worth a notification."""
    data = event.get("data") or {}
    after = data.get("after") or {}
    org = data.get("organisation") or event.get("organisation")
    what = f"{after.get('name')} {after.get('version')}"
    where = f" to {after['environment']}" if after.get("environment") else ""
    actor = (data.get("principal") or {}).get("actor")
    by = f" by {actor}" if actor else ""
    if event.get("type") == "deployq.deployment.status_changed":
        if after.get("status") == "failed":
            note = f": {after['notes']}" if after.get("notes") else ""
            return f":x: [{org}] deployment of {what}{where} failed{by}{note} ({after.get('id')})"
        if after.get("status") == "rolled_back":
            return f":rewind: [{org}] {what}{where} was rolled back ({after.get('id')})"
    if event.get("type") == "deployq.approval.requested":
        return approval_message(org, data, after)
    if event.get("type") == "deployq.deployment.created" and after.get("trigger") == "rollback":
        place = f" in {after['environment']}" if after.get("environment") else ""
        return (
            f":rewind: [{org}] rollback of {after.get('name')}{place} to version "
            f"{after.get('version')} queued{by} ({after.get('id')})"
        )
    return None


def approval_message(org: str | None, data: dict[str, Any], after: dict[str, Any]) -> str:
    """Who may approve which item where."""
    if data.get("kind") == "package_deployment":
        item = f"package {after.get('package_name')} {after.get('package_version')}"
        if after.get("rollback_of"):
            item = f"rollback of {item}"
        path = f"/v1/package-deployments/{after.get('id')}/approve"
    else:
        item = f"deployment of {after.get('name')} {after.get('version')}"
        path = f"/v1/deployments/{after.get('id')}/approve"
    who = [f"anyone with the {data.get('approver_role') or 'approver'} role"]
    who += list(data.get("approvers") or [])
    actor = (data.get("principal") or {}).get("actor")
    need = data.get("min_approvals") or 1
    return (
        f":hourglass: [{org}] {item} to {data.get('environment')} waits for "
        f"{need} approval{'s' if need != 1 else ''}{f' (requested by {actor})' if actor else ''}; "
        f"who may approve: {', '.join(who)}. Approve with POST {path} "
        f"or `deployq approvals approve {after.get('id')}` ({after.get('id')})"
    )


def send(url: str, text: str, session: requests.Session | None = None) -> bool:
    """POST `{"text": ...}` (Slack-escaped) to the webhook; failures are logged, never raised."""
    return webhooks.post_json(url, {"text": webhooks.slack_text(text)}, session)
