"""`deployq me`, `deployq org show|members|rules`, `deployq orgs list|show|set|delete`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.commands import group, leaf, list_pages, read_json_file, read_text
from cli.errors import UsageError
from cli.runtime import Runtime

MEMBER_COLUMNS = ["email", ("github_login", "GITHUB LOGIN"), "role"]
RULE_COLUMNS = ["repository", "ref", "environment", "role"]
ORG_COLUMNS = ["name", "environments", ("cloud_run_services", "SERVICES"), "members", "updated_at"]


def me(rt: Runtime) -> int:
    data = rt.client("deployments").call("GET", "/v1/me")

    def render(d: dict[str, Any]) -> None:
        person = d.get("person") or {}
        rt.record(
            {
                "kind": d.get("kind"),
                "organisation": d.get("organisation"),
                "actor": d.get("actor"),
                "role": d.get("role"),
                "person": ", ".join(
                    v for v in (person.get("email"), person.get("github_login")) if v
                )
                or None,
            }
        )

    rt.emit(data, render)
    return 0


def render_record(rt: Runtime, d: dict[str, Any]) -> None:
    """An organisation record for people: its grants, then members and rules as tables."""
    github = d.get("github") or {}
    rt.record(
        {
            "name": d.get("name"),
            "github owner id": github.get("owner_id"),
            "updated_at": d.get("updated_at"),
        }
    )
    rt.say("")
    rt.say("environments:")
    rows = [
        {"environment": name, **target} for name, target in (d.get("environments") or {}).items()
    ]
    rt.table(rows, ["environment", "project", "database"])
    rt.say("")
    rt.say("cloud run services:")
    rt.table([{"pattern": p} for p in d.get("cloud_run_services") or []], ["pattern"])
    rt.say("")
    rt.say("members:")
    rt.table(d.get("members") or [], MEMBER_COLUMNS)
    rt.say("")
    rt.say("github rules (first match wins; none: every workflow is deployer):")
    rt.table(github.get("rules") or [], RULE_COLUMNS)


def org_show(rt: Runtime) -> int:
    return show_record(rt, "GET", "/v1/organisation")


def org_members(rt: Runtime) -> int:
    """List members, or replace them from a file (org admins)."""
    data = own_record(rt, "members", lambda members: {"members": members})
    rt.emit(data.get("members") or [], lambda rows: rt.table(rows, MEMBER_COLUMNS))
    return 0


def org_rules(rt: Runtime) -> int:
    """List GitHub trust rules, or replace them from a file (org admins)."""
    data = own_record(rt, "rules", lambda rules: {"github": {"rules": rules}})
    rules = (data.get("github") or {}).get("rules") or []
    rt.emit(rules, lambda rows: rt.table(rows, RULE_COLUMNS))
    return 0


def own_record(rt: Runtime, key: str, patch: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """The caller's organisation record; with `--file`, after replacing its `key` list with
    the file's (a list, or an object holding it under `key`)."""
    client = rt.client("deployments")
    if not rt.args.file:
        return client.call("GET", "/v1/organisation")
    value = read_document(rt.args.file)
    if isinstance(value, dict) and key in value:
        value = value[key]
    return client.call("PATCH", "/v1/organisation", json=patch(value))


def show_record(rt: Runtime, method: str, path: str, body: Any = None) -> int:
    """Call the deployments function and show the organisation record it answers."""
    data = rt.client("deployments").call(
        method, path, **({"json": body} if body is not None else {})
    )
    rt.emit(data, lambda d: render_record(rt, d))
    return 0


def summary(d: dict[str, Any]) -> dict[str, Any]:
    return {
        **d,
        "environments": ",".join(sorted(d.get("environments") or {})),
        "cloud_run_services": len(d.get("cloud_run_services") or []),
        "members": len(d.get("members") or []),
    }


def orgs_list(rt: Runtime) -> int:
    a = rt.args
    params: dict[str, Any] = {"limit": a.limit, "page_token": a.page_token}
    return list_pages(
        rt,
        "/v1/organisations",
        params,
        lambda rows: rt.table([summary(r) for r in rows], ORG_COLUMNS),
        "organisations",
    )


def orgs_show(rt: Runtime) -> int:
    return show_record(rt, "GET", f"/v1/organisations/{rt.args.name}")


def orgs_set(rt: Runtime) -> int:
    body = read_document(rt.args.file)
    if not isinstance(body, dict):
        raise UsageError(f"{rt.args.file} must hold one object (the organisation record)")
    return show_record(rt, "PUT", f"/v1/organisations/{rt.args.name}", body)


def orgs_delete(rt: Runtime) -> int:
    rt.client("deployments").call("DELETE", f"/v1/organisations/{rt.args.name}")
    rt.emit(
        {"deleted": rt.args.name},
        lambda d: rt.say(f"removed the record of {d['deleted']} (its data stays)"),
    )
    return 0


def read_document(path: str) -> Any:
    """A JSON file, or YAML (`.yaml`/`.yml`) when PyYAML is installed; `-` reads JSON stdin."""
    if Path(path).suffix.lower() not in (".yaml", ".yml"):
        return read_json_file(path)
    try:
        import yaml
    except ImportError:
        raise UsageError(
            f"{path}: YAML needs PyYAML (pip install pyyaml); or give the record as JSON"
        ) from None
    try:
        return json.loads(json.dumps(yaml.safe_load(read_text(path)), default=str))
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    leaf(commands, common, "me", me, "who you are: organisation, role and person")

    sub = group(commands, "org", "your organisation's record: grants, members, GitHub rules")
    leaf(sub, common, "show", org_show, "the record: environments, services, members, rules")
    p = leaf(sub, common, "members", org_members, "list members, or replace them (org admins)")
    p.add_argument("--file", help="JSON list of {email?, github_login?, role} to set; - for stdin")
    p = leaf(sub, common, "rules", org_rules, "list GitHub trust rules, or replace them (admins)")
    p.add_argument(
        "--file", help="JSON list of {repository, ref, environment?, role} to set; - for stdin"
    )

    sub = group(commands, "orgs", "organisation records (platform admins)")
    p = leaf(sub, common, "list", orgs_list, "every organisation record, by name")
    p.set_defaults(platform=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--page-token")
    p.add_argument("--all", action="store_true", help="follow every page")
    p = leaf(sub, common, "show", orgs_show, "one organisation's record")
    p.set_defaults(platform=True)
    p.add_argument("name", metavar="ORG")
    p = leaf(
        sub,
        common,
        "set",
        orgs_set,
        "create or replace an organisation's record from a JSON (or YAML) file",
    )
    p.set_defaults(platform=True)
    p.add_argument("name", metavar="ORG")
    p.add_argument("--file", required=True, help="the record; - for JSON on stdin")
    p = leaf(sub, common, "delete", orgs_delete, "remove an organisation's grants (data stays)")
    p.set_defaults(platform=True)
    p.add_argument("name", metavar="ORG")
