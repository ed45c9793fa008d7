"""Checks of a generated OpenAPI document that any client generator relies on."""

from __future__ import annotations

from typing import Any


def unresolved_refs(spec: dict[str, Any]) -> list[str]:
    """Every `$ref` in the document that does not point at something in it."""
    missing: list[str] = []

    def resolve(ref: str) -> bool:
        if not ref.startswith("#/"):
            return False
        node: Any = spec
        for part in ref[2:].split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not resolve(ref):
                missing.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return sorted(set(missing))
