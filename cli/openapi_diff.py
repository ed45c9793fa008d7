"""Breaking changes between two OpenAPI documents (3.0 or 3.1; Swagger 2.0 mostly), as a pure
function.

Breaking for a client built against OLD:
- a path or an operation removed; a 2xx response, or one of its media types, removed;
- a new required parameter, a parameter or request body that became required, a request
  media type no longer accepted, a new required request field;
- a request type narrowed: type changed (integer -> number is a widening), enum values
  removed or an enum added, a length/size/range limit tightened, a pattern added or changed,
  a field no longer accepted where the object forbids others;
- a response field removed or no longer required, a response type changed or made nullable.
Added paths, operations, optional inputs and response fields are reported as non-breaking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cli.openapi_schemas import Resolver, content, fmt, hashable, json_type, uncovered

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# limit -> True when a larger value is tighter (for requests)
LIMITS = {
    "minLength": True,
    "minItems": True,
    "minimum": True,
    "exclusiveMinimum": True,
    "minProperties": True,
    "maxLength": False,
    "maxItems": False,
    "maximum": False,
    "exclusiveMaximum": False,
    "maxProperties": False,
}
MAX_DEPTH = 40


@dataclass(frozen=True)
class Change:
    """One difference: whether it breaks clients, the operation, where in it, and what."""

    breaking: bool
    operation: str
    location: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        where = f"{self.operation} {self.location}".strip()
        return f"{'BREAKING' if self.breaking else 'info'}  {where}: {self.message}"


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from `old` to `new`; `is_breaking(changes)` says whether any breaks clients."""
    return _Differ(old, new).run()


def is_breaking(changes: Iterable[Change]) -> bool:
    return any(c.breaking for c in changes)


def path_key(path: str) -> str:
    """`/v1/items/{id}` and `/v1/items/{item_id}` are one route."""
    return re.sub(r"\{[^}/]*\}", "{}", path.rstrip("/") or "/")


class _Differ:
    def __init__(self, old: dict[str, Any], new: dict[str, Any]):
        self.old, self.new = old or {}, new or {}
        self.r_old, self.r_new = Resolver(self.old), Resolver(self.new)
        self.changes: list[Change] = []

    def add(self, breaking: bool, operation: str, location: str, message: str) -> None:
        self.changes.append(Change(breaking, operation, location, message))

    def run(self) -> list[Change]:
        old_paths = {path_key(p): (p, v) for p, v in (self.old.get("paths") or {}).items()}
        new_paths = {path_key(p): (p, v) for p, v in (self.new.get("paths") or {}).items()}
        for key, (path, old_item) in old_paths.items():
            if key not in new_paths:
                methods = [m.upper() for m in METHODS if m in (self.r_old(old_item) or {})]
                self.add(True, " ".join(methods) or "*", path, "path removed")
                continue
            self.path_item(path, self.r_old(old_item) or {}, self.r_new(new_paths[key][1]) or {})
        for key, (path, new_item) in new_paths.items():
            if key not in old_paths:
                methods = [m.upper() for m in METHODS if m in (self.r_new(new_item) or {})]
                self.add(False, " ".join(methods) or "*", path, "path added")
        return self.changes

    # -- operations ---------------------------------------------------------------

    def path_item(self, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for method in METHODS:
            operation = f"{method.upper()} {path}"
            if method in old and method not in new:
                self.add(True, operation, "", "operation removed")
            elif method in new and method not in old:
                self.add(False, operation, "", "operation added")
            elif method in old:
                o, n = self.r_old(old[method]) or {}, self.r_new(new[method]) or {}
                self.parameters(
                    operation, self._params(old, o, self.r_old), self._params(new, n, self.r_new)
                )
                self.request_body(operation, o.get("requestBody"), n.get("requestBody"))
                self.responses(operation, o.get("responses") or {}, n.get("responses") or {})

    @staticmethod
    def _params(item: dict[str, Any], op: dict[str, Any], resolve) -> dict[tuple[str, str], Any]:
        params: dict[tuple[str, str], Any] = {}
        for raw in list(item.get("parameters") or []) + list(op.get("parameters") or []):
            param = resolve(raw) or {}
            if "name" in param and "in" in param:
                name = param["name"].lower() if param["in"] == "header" else param["name"]
                params[(param["in"], name)] = param
        return params

    def parameters(self, op: str, old: dict, new: dict) -> None:
        old_path = [p for (where, _), p in old.items() if where == "path"]
        new_path = [p for (where, _), p in new.items() if where == "path"]
        for o, n in zip(old_path, new_path, strict=False):  # path parameters match by position
            self.schema(
                op, f"path parameter {n['name']}", o.get("schema"), n.get("schema"), "request", 0
            )
        for key, param in new.items():
            where, name = key
            if where == "path":
                continue
            label = f"{where} parameter {name}"
            previous = old.get(key)
            if previous is None:
                self.add(
                    bool(param.get("required")),
                    op,
                    label,
                    "new required parameter" if param.get("required") else "new optional parameter",
                )
                continue
            if param.get("required") and not previous.get("required"):
                self.add(True, op, label, "parameter became required")
            self.schema(op, label, previous.get("schema"), param.get("schema"), "request", 0)
        for key in old:
            if key not in new and key[0] != "path":
                self.add(False, op, f"{key[0]} parameter {key[1]}", "parameter removed")

    def request_body(self, op: str, old: Any, new: Any) -> None:
        old, new = self.r_old(old), self.r_new(new)
        if not new:
            if old:
                self.add(False, op, "request body", "request body no longer read")
            return
        if not old:
            self.add(
                bool(new.get("required")),
                op,
                "request body",
                "new required request body" if new.get("required") else "new optional request body",
            )
            return
        if new.get("required") and not old.get("required"):
            self.add(True, op, "request body", "request body became required")
        old_content, new_content = old.get("content") or {}, new.get("content") or {}
        for media, old_media in old_content.items():
            if media not in new_content:
                self.add(True, op, "request body", f"content type {media} no longer accepted")
                continue
            self.schema(
                op,
                "request body",
                (old_media or {}).get("schema"),
                (new_content[media] or {}).get("schema"),
                "request",
                0,
            )

    def responses(self, op: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for code, old_response in old.items():
            if not str(code).startswith("2"):
                continue
            label = f"response {code}"
            if code not in new:
                self.add(True, op, label, "success response removed")
                continue
            old_content = content(self.r_old(old_response))
            new_content = content(self.r_new(new[code]))
            for media, old_media in old_content.items():
                if media not in new_content:
                    self.add(True, op, label, f"content type {media} no longer returned")
                    continue
                self.schema(
                    op,
                    label,
                    (old_media or {}).get("schema"),
                    (new_content[media] or {}).get("schema"),
                    "response",
                    0,
                )

    # -- schemas ------------------------------------------------------------------

    def _alternatives(self, schema: Any, resolve) -> list[dict[str, Any]]:
        schema = resolve(schema)
        if not isinstance(schema, dict):
            return [{}]
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = resolve(part) or {}
                merged.setdefault("properties", {}).update(part.get("properties") or {})
                merged["required"] = sorted(
                    set(merged.get("required") or []) | set(part.get("required") or [])
                )
                for key, value in part.items():
                    if key not in ("properties", "required"):
                        merged.setdefault(key, value)
            schema = merged
        for key in ("anyOf", "oneOf"):
            if key in schema:
                found = []
                for part in schema[key]:
                    found.extend(self._alternatives(part, resolve))
                return found
        return [schema]

    @staticmethod
    def _types(alternatives: list[dict[str, Any]]) -> set[str] | None:
        """The JSON types a schema allows; None when it allows anything."""
        found: set[str] = set()
        for alt in alternatives:
            kind = alt.get("type")
            if kind is None:
                if "properties" in alt or "additionalProperties" in alt:
                    kind = "object"
                elif "items" in alt:
                    kind = "array"
                elif "enum" in alt or "const" in alt:
                    values = alt.get("enum", [alt.get("const")])
                    kind = sorted({json_type(v) for v in values})
                else:
                    return None
            found.update([kind] if isinstance(kind, str) else kind)
            if alt.get("nullable") is True:
                found.add("null")
        return found

    @staticmethod
    def _enum(alternatives: list[dict[str, Any]]) -> set[Any] | None:
        values: set[Any] = set()
        for alt in alternatives:
            if "enum" in alt:
                values.update(hashable(v) for v in alt["enum"])
            elif "const" in alt:
                values.add(hashable(alt["const"]))
            elif alt.get("type") == "null":
                values.add(None)
            else:
                return None
        return values

    @staticmethod
    def _single(alternatives: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
        """The one alternative of a kind (object / array), ignoring null."""
        matches = [
            a
            for a in alternatives
            if a.get("type") == kind
            or (kind == "object" and "properties" in a)
            or (kind == "array" and "items" in a)
        ]
        return matches[0] if len(matches) == 1 else None

    def schema(self, op: str, where: str, old: Any, new: Any, direction: str, depth: int) -> None:
        if depth > MAX_DEPTH or old is None or new is None:
            return
        olds = self._alternatives(old, self.r_old)
        news = self._alternatives(new, self.r_new)
        old_types, new_types = self._types(olds), self._types(news)
        if direction == "request":
            if old_types is not None or new_types is not None:
                lost = uncovered(old_types, new_types)
                if lost:
                    self.add(
                        True,
                        op,
                        where,
                        f"type narrowed from {fmt(old_types)} to {fmt(new_types)}",
                    )
                    return
        else:
            gained = uncovered(new_types, old_types) if old_types is not None else set()
            if new_types is not None and gained:
                made_nullable = gained == {"null"}
                self.add(
                    True,
                    op,
                    where,
                    "may now be null"
                    if made_nullable
                    else f"type changed from {fmt(old_types)} to {fmt(new_types)}",
                )
                if not made_nullable:
                    return
        self.enums(op, where, olds, news, direction)
        if direction == "request":
            self.limits(op, where, olds, news)
        old_obj, new_obj = self._single(olds, "object"), self._single(news, "object")
        if old_obj is not None and new_obj is not None:
            self.objects(op, where, old_obj, new_obj, direction, depth)
        old_arr, new_arr = self._single(olds, "array"), self._single(news, "array")
        if old_arr is not None and new_arr is not None:
            self.schema(
                op, f"{where}[]", old_arr.get("items"), new_arr.get("items"), direction, depth + 1
            )

    def enums(self, op: str, where: str, olds: list, news: list, direction: str) -> None:
        old_enum, new_enum = self._enum(olds), self._enum(news)
        if direction == "request":
            if new_enum is not None and old_enum is None:
                self.add(True, op, where, "now restricted to " + fmt(new_enum))
            elif new_enum is not None and old_enum is not None and old_enum - new_enum:
                self.add(True, op, where, "enum values removed: " + fmt(old_enum - new_enum))
            elif new_enum is not None and old_enum is not None and new_enum - old_enum:
                self.add(False, op, where, "enum values added: " + fmt(new_enum - old_enum))
        elif old_enum is not None and new_enum is not None and new_enum - old_enum:
            self.add(
                False,
                op,
                where,
                "new enum values a client may not know: " + fmt(new_enum - old_enum),
            )

    def limits(self, op: str, where: str, olds: list, news: list) -> None:
        if len(olds) != 1 or len(news) != 1:
            return
        old, new = olds[0], news[0]
        for key, larger_is_tighter in LIMITS.items():
            o, n = old.get(key), new.get(key)
            if not isinstance(n, (int, float)) or isinstance(n, bool):
                continue
            if not isinstance(o, (int, float)) or isinstance(o, bool):
                self.add(True, op, where, f"new limit {key} {n}")
            elif (n > o) if larger_is_tighter else (n < o):
                self.add(True, op, where, f"{key} tightened from {o} to {n}")
        if new.get("pattern") and new.get("pattern") != old.get("pattern"):
            self.add(True, op, where, f"pattern changed to {new['pattern']!r}")

    def objects(
        self, op: str, where: str, old: dict, new: dict, direction: str, depth: int
    ) -> None:
        old_props = old.get("properties") or {}
        new_props = new.get("properties") or {}
        old_req, new_req = set(old.get("required") or []), set(new.get("required") or [])
        for name in sorted(set(old_props) | set(new_props) | old_req | new_req):
            label = f"{where}.{name}"
            if direction == "request":
                if name in new_req and name not in old_req:
                    self.add(
                        True,
                        op,
                        label,
                        "new required field" if name not in old_props else "field became required",
                    )
                elif name in new_props and name not in old_props:
                    self.add(False, op, label, "new optional field")
                if name not in new_props and name in old_props:
                    closed = new.get("additionalProperties") is False
                    self.add(
                        closed,
                        op,
                        label,
                        "field no longer accepted" if closed else "field removed (now ignored)",
                    )
            else:
                if name in old_props and name not in new_props:
                    self.add(True, op, label, "response field removed")
                    continue
                if name in old_req and name not in new_req:
                    self.add(True, op, label, "response field no longer required (may be absent)")
                if name in new_props and name not in old_props:
                    self.add(False, op, label, "response field added")
            if name in old_props and name in new_props:
                self.schema(op, label, old_props[name], new_props[name], direction, depth + 1)
