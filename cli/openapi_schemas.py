"""Reading OpenAPI documents for the breaking-change diff: `$ref`s, media types, JSON types."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Resolver:
    """A document's nodes with local `$ref`s followed (a loop or a remote ref: `{}`)."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc

    def __call__(self, node: Any) -> Any:
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#"):
                return {}
            seen.add(ref)
            target = self._pointer(ref)
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra} if isinstance(target, dict) and extra else target
        return node

    def _pointer(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node


def content(response: Any) -> dict[str, Any]:
    """A response's media types; Swagger 2.0's bare `schema` counts as application/json."""
    if not isinstance(response, dict):
        return {}
    if "content" in response:
        return response.get("content") or {}
    if "schema" in response:
        return {"application/json": {"schema": response["schema"]}}
    return {}


def uncovered(have: set[str] | None, other: set[str] | None) -> set[str]:
    """Types in `have` that `other` does not allow (integer is covered by number)."""
    if have is None:
        return set() if other is None else {"any"}
    if other is None:
        return set()
    return {t for t in have if t not in other and not (t == "integer" and "number" in other)}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (dict, list)) else value


def fmt(values: Iterable[Any] | None) -> str:
    if values is None:
        return "any"
    return ", ".join(sorted(str(v) for v in values))
