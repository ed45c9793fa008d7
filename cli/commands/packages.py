"""`deployq packages ...` and `deployq jobs ...`: data packages, their deployments and jobs."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from cli.commands import csv_list, drop_none, group, json_value, leaf
from cli.commands.package_deploys import (
    deploy_command,
    deployment_commands,
    jobs_commands,
    packages_client,
)
from cli.errors import UsageError
from cli.runtime import Runtime

PACKAGE_COLUMNS = [
    "id",
    "name",
    "version",
    ("package_type", "TYPE"),
    ("environment", "ENV"),
    "status",
    ("size_bytes", "BYTES"),
    ("metadata.total_records", "RECORDS"),
    ("created_at", "CREATED"),
]
ACTION_COLUMNS = [
    ("performed_at", "TIME"),
    ("action_type", "ACTION"),
    ("action_status", "STATUS"),
    ("source_environment", "FROM"),
    ("target_environment", "TO"),
    ("records_processed", "RECORDS"),
    ("records_failed", "FAILED"),
    ("duration_seconds", "SECONDS"),
    ("performed_by", "BY"),
]


# -- packages ---------------------------------------------------------------------


def list_packages(rt: Runtime) -> int:
    a = rt.args
    data = packages_client(rt).call(
        "GET",
        "/v1/packages",
        params={
            "status": a.status,
            "package_type": a.type,
            "environment": a.environment,
            "limit": a.limit,
            "offset": a.offset,
        },
    )
    rt.emit(
        data,
        lambda d: rt.table(d.get("packages", []), PACKAGE_COLUMNS),
    )
    return 0


def show_package(rt: Runtime) -> int:
    data = packages_client(rt).call("GET", f"/v1/packages/{rt.args.package_id}")

    def render(d: dict[str, Any]) -> None:
        rt.record(d.get("package") or {})
        actions = d.get("recent_actions") or []
        if actions:
            rt.say("\nrecent actions:")
            rt.table(actions, ACTION_COLUMNS)

    rt.emit(data, render)
    return 0


def build_filter(a: argparse.Namespace) -> dict[str, Any] | None:
    """The `filter` of a create body from --tables/--collections/--table/--where/--exclude."""
    result: dict[str, Any] = dict(a.filter or {})
    tables = list(a.tables or []) + list(a.table or [])
    if tables:
        result["tables"] = tables
    if a.collections:
        result["collections"] = a.collections
    for item in a.where or []:
        name, condition = split_assignment(item, "--where")
        try:
            parsed = json.loads(condition)
        except ValueError:
            parsed = condition
        result.setdefault("where_clause", {})[name] = (
            parsed if isinstance(parsed, list) else condition
        )
    for item in a.exclude or []:
        name, columns = split_assignment(item, "--exclude")
        result.setdefault("exclude_columns", {})[name] = csv_list(columns)
    return result or None


def split_assignment(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"{flag} takes NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def create_package(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {
            "name": a.name,
            "version": a.version,
            "package_type": a.type,
            "environment": a.environment,
            "description": a.description,
            "metadata": a.metadata,
            "tags": a.tags,
            "filter": build_filter(a),
        }
    )
    data = packages_client(rt).call("POST", "/v1/packages", json=body)
    rt.emit(data, lambda d: rt.record(d.get("package") or {}))
    return 0


def update_package(rt: Runtime) -> int:
    a = rt.args
    body = drop_none(
        {"description": a.description, "status": a.status, "tags": a.tags, "metadata": a.metadata}
    )
    if not body:
        raise UsageError("nothing to change: give --description, --status, --tags or --metadata")
    data = packages_client(rt).call("PUT", f"/v1/packages/{a.package_id}", json=body)
    rt.emit(data, lambda d: rt.say(d.get("message") or f"updated {a.package_id}"))
    return 0


def delete_package(rt: Runtime) -> int:
    data = packages_client(rt).call("DELETE", f"/v1/packages/{rt.args.package_id}")
    rt.emit(data, lambda d: rt.say((d or {}).get("message") or "deleted"))
    return 0


def generate(rt: Runtime) -> int:
    a = rt.args
    response = packages_client(rt).request(
        "POST",
        f"/v1/packages/{a.package_id}/generate",
        json={"format": a.format},
        headers={"Accept": "application/zip" if a.format == "zip" else "application/json"},
    )
    target = a.output
    if target is None and a.format == "zip":
        target = (
            attachment_name(response.headers.get("Content-Disposition"))
            or f"package-{a.package_id}.zip"
        )
    if target is None or target == "-":
        rt.stdout.write(response.content.decode())
        if not response.content.endswith(b"\n"):
            rt.stdout.write("\n")
        return 0
    Path(target).write_bytes(response.content)
    rt.progress(f"wrote {len(response.content)} bytes to {target}")
    if rt.json:
        rt.emit({"file": target, "bytes": len(response.content), "format": a.format})
    return 0


def attachment_name(disposition: str | None) -> str | None:
    """The base file name of a `Content-Disposition: attachment; filename=...` header."""
    match = re.search(r'filename="?([^";]+)"?', disposition or "")
    return Path(match.group(1)).name if match else None


def import_package(rt: Runtime) -> int:
    a = rt.args
    try:
        content = Path(a.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {a.file}: {exc}") from None
    client = packages_client(rt)
    if content[:2] == b"PK":  # a ZIP made by `packages generate --format zip`
        data = client.call(
            "POST",
            "/v1/packages/import",
            data=content,
            content_type="application/zip",
            params={"environment": a.environment},
        )
    else:
        try:
            document = json.loads(content)
        except ValueError as exc:
            raise UsageError(f"{a.file} is neither a ZIP nor JSON: {exc}") from None
        if not (isinstance(document, dict) and "package_data" in document):
            document = {"package_data": document}
        if a.environment:
            document["environment"] = a.environment
        data = client.call("POST", "/v1/packages/import", json=document)
    rt.emit(data, lambda d: rt.record(d.get("package") or {}))
    return 0


def actions(rt: Runtime) -> int:
    a = rt.args
    data = packages_client(rt).call(
        "GET", f"/v1/packages/{a.package_id}/actions", params={"limit": a.limit, "offset": a.offset}
    )
    rt.emit(data, lambda d: rt.table(d.get("actions", []), ACTION_COLUMNS))
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = group(commands, "packages", "data packages: capture, generate, import, deploy")

    p = leaf(sub, common, "list", list_packages, "list packages, newest first")
    p.add_argument("--status", choices=("active", "archived", "deleted"))
    p.add_argument("--type", choices=("database", "document"))
    p.add_argument("--environment")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)

    p = leaf(sub, common, "show", show_package, "one package and its recent actions")
    p.add_argument("package_id")

    create_command(sub, common)

    p = leaf(
        sub,
        common,
        "update",
        update_package,
        "change description, status, tags or metadata (never the contents)",
    )
    p.add_argument("package_id")
    p.add_argument("--description")
    p.add_argument("--status", choices=("active", "archived"))
    p.add_argument("--tags", type=csv_list)
    p.add_argument("--metadata", type=json_value)

    p = leaf(sub, common, "delete", delete_package, "delete a package (soft)")
    p.add_argument("package_id")

    p = leaf(sub, common, "generate", generate, "download a package as JSON or ZIP")
    p.add_argument("package_id")
    p.add_argument("--format", choices=("json", "zip"), default="json")
    p.add_argument("-o", "--output", help="file (json default: stdout; zip default: its name)")

    p = leaf(
        sub, common, "import", import_package, "create a package from a generated JSON or ZIP file"
    )
    p.add_argument("file")
    p.add_argument("--environment", help="the environment the package belongs to")

    deploy_command(sub, common)

    p = leaf(sub, common, "actions", actions, "the action history of a package")
    p.add_argument("package_id")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)

    deployment_commands(sub, common)
    jobs_commands(commands, common)


def create_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`deployq packages create`: what to capture, and the filter of its rows."""
    p = leaf(
        sub,
        common,
        "create",
        create_package,
        "capture collections (document) or tables (database) of a source environment",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--type", required=True, choices=("database", "document"))
    p.add_argument("--environment", required=True, help="source environment")
    p.add_argument("--description")
    p.add_argument("--metadata", type=json_value, help="JSON object (or @file.json)")
    p.add_argument("--tags", type=csv_list, help="comma list")
    p.add_argument("--tables", type=csv_list, help="comma list of table names (database)")
    p.add_argument(
        "--table",
        type=json_value,
        action="append",
        help='a table with keys, JSON: {"name","primary_key","foreign_keys"} (repeatable)',
    )
    p.add_argument("--collections", type=csv_list, help="comma list (document)")
    p.add_argument(
        "--where",
        action="append",
        metavar="NAME=CONDITION",
        help="e.g. users=\"active = TRUE AND created >= '2025-01-01'\" or a JSON "
        'list [["age", ">=", 18]] (repeatable)',
    )
    p.add_argument(
        "--exclude",
        action="append",
        metavar="NAME=COL,COL",
        help="columns left out of a table/collection (repeatable)",
    )
    p.add_argument("--filter", type=json_value, help="the whole filter as JSON (or @file.json)")
