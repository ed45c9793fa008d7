"""`deployq openapi-diff OLD NEW`: breaking changes between two OpenAPI documents (exit 1)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli import openapi_diff
from cli.commands import leaf
from cli.errors import EXIT_FAILURE, UsageError
from cli.runtime import Runtime


def load_document(source: str) -> dict[str, Any]:
    """An OpenAPI document from a file (JSON, or YAML with PyYAML) or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(source, timeout=30)
            response.raise_for_status()
            text = response.text
        except requests.RequestException as exc:
            raise UsageError(f"cannot fetch {source}: {exc}") from None
    else:
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise UsageError(
                f"{source} is not JSON ({json_error}); install PyYAML to read YAML documents"
            ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{source} is neither JSON nor YAML: {exc}") from None
    if not isinstance(document, dict) or not (
        "openapi" in document or "swagger" in document or "paths" in document
    ):
        raise UsageError(f"{source} is not an OpenAPI document (no openapi/paths key)")
    return document


def run(rt: Runtime) -> int:
    a = rt.args
    changes = openapi_diff.diff(load_document(a.old), load_document(a.new))
    breaking = [c for c in changes if c.breaking]
    shown = changes if a.all else breaking
    if rt.json:
        rt.emit(
            {
                "breaking": bool(breaking),
                "breaking_count": len(breaking),
                "changes": [c.as_dict() for c in shown],
            }
        )
    else:
        for change in shown:
            rt.stdout.write(change.line() + "\n")
        if breaking:
            rt.stdout.write(f"{len(breaking)} breaking change(s)\n")
        else:
            rt.stdout.write(f"no breaking changes ({len(changes)} compatible change(s))\n")
    return EXIT_FAILURE if breaking else 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = leaf(
        commands,
        common,
        "openapi-diff",
        run,
        "breaking changes between two OpenAPI documents (exit 1 when any): a pre-rollout gate",
    )
    p.add_argument("old", help="the document clients were built against (file or URL)")
    p.add_argument("new", help="the document about to be rolled out (file or URL)")
    p.add_argument("--all", action="store_true", help="also list compatible changes")
