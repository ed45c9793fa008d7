"""The command groups of `deployq`; each module has `register(commands, common)`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import UsageError

if TYPE_CHECKING:
    from cli.runtime import Runtime


def leaf(
    group: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    func: Callable[..., Any],
    help: str,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A runnable command: its parser takes the common options too."""
    parser = group.add_parser(name, parents=[common], help=help, description=help, **kwargs)
    parser.set_defaults(func=func)
    return parser


def group(
    commands: argparse._SubParsersAction, name: str, help: str, **kwargs: Any
) -> argparse._SubParsersAction:
    """A command with sub-commands (`deployq deployments ...`)."""
    parser = commands.add_parser(name, help=help, description=help, **kwargs)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def csv_list(value: str) -> list[str]:
    """`a,b, c` -> ["a", "b", "c"] (argparse type)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def json_value(value: str) -> Any:
    """A JSON literal, or `@file.json` (argparse type)."""
    try:
        if value.startswith("@"):
            return json.loads(Path(value[1:]).read_text())
        return json.loads(value)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None


def read_text(path: str) -> str:
    """A text file, or stdin for `-`; UsageError when unreadable."""
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def read_json_file(path: str) -> Any:
    """A JSON document from a file, or stdin for `-`; UsageError when unreadable."""
    try:
        return json.loads(read_text(path))
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def missing_flags(values: dict[str, Any], *, empty_allowed: bool = False) -> list[str]:
    """The flags of `{flag: value}` not given: None, and '' too unless `empty_allowed`."""
    return [
        flag for flag, value in values.items() if value is None or (not empty_allowed and not value)
    ]


def list_pages(
    rt: Runtime, path: str, params: dict[str, Any], render: Callable[[list], None], what: str
) -> int:
    """A listing of the deployments function: one page, or every page with `--all`; the
    next page's token on stderr when more are left."""
    a = rt.args
    items, next_token = [], None
    while True:
        response = rt.client("deployments").request("GET", path, params=params)
        items.extend(response.json())
        next_token = response.headers.get("X-Next-Page-Token")
        if not (a.all and next_token):
            break
        params["page_token"] = next_token
    rt.emit(items, render)
    if next_token and not a.all:
        rt.progress(f"more {what}: --page-token {next_token} (or --all)")
    return 0
