"""The command groups of `deployq`; each module has `register(commands, common)`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.errors import UsageError


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
