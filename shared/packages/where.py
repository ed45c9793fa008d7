"""Row filters of a package: structured conditions or the simple string form, never evaluated.

A condition is `(field, op, value)`; a filter holds when every condition holds.
Comparison follows Firestore's rules: values of different kinds never compare
(a string is not less than a number), a missing field matches nothing, and a
timestamp field compares with a date/time string literal as a timestamp.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

STRUCTURED_OPS = {
    "==": "==",
    "=": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "in": "in",
    "not-in": "not-in",
    "array-contains": "array-contains",
}
STRING_OPS = {
    "=": "==",
    "==": "==",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
MAX_CONDITIONS = 50
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
      | (?P<op><>|!=|==|<=|>=|=|<|>)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)


class WhereError(ValueError):
    """A where clause that is not a valid condition list; the message says what is wrong."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


def parse(clause: Any) -> list[Condition]:
    """A where clause (string or list of [field, op, value]) -> conditions; WhereError if bad."""
    if isinstance(clause, str):
        return parse_string(clause)
    if isinstance(clause, list):
        return parse_structured(clause)
    raise WhereError(
        "must be a string like \"field = 'x' AND n >= 1\" or a list of [field, op, value]"
    )


def parse_structured(items: list[Any]) -> list[Condition]:
    if items and not isinstance(items[0], list) and len(items) == 3:
        items = [items]  # one condition given on its own
    if not items:
        raise WhereError("is empty; give at least one [field, op, value]")
    if len(items) > MAX_CONDITIONS:
        raise WhereError(f"has more than {MAX_CONDITIONS} conditions")
    conditions = []
    for index, item in enumerate(items):
        if not isinstance(item, list) or len(item) != 3:
            raise WhereError(f"condition {index + 1} must be [field, op, value]")
        field, op, value = item
        if not isinstance(field, str) or not FIELD.fullmatch(field):
            raise WhereError(f"condition {index + 1}: {field!r} is not a field name")
        if not isinstance(op, str) or op.lower() not in STRUCTURED_OPS:
            raise WhereError(
                f"condition {index + 1}: operator {op!r} is not one of {' '.join(STRUCTURED_OPS)}"
            )
        op = STRUCTURED_OPS[op.lower()]
        if op in ("in", "not-in") and not isinstance(value, list):
            raise WhereError(f"condition {index + 1}: {op} needs a list value")
        conditions.append(Condition(field, op, value))
    return conditions


def parse_string(text: str) -> list[Condition]:
    """`field op literal [AND field op literal ...]`; literals: 'text' ('' is a quote), numbers,
    TRUE, FALSE, NULL (keywords in any case)."""
    if len(text) > 10_000:
        raise WhereError("is longer than 10000 characters")
    tokens = _tokenize(text)
    if not tokens:
        raise WhereError("is empty")
    conditions: list[Condition] = []
    position = 0
    while True:
        if len(conditions) >= MAX_CONDITIONS:
            raise WhereError(f"has more than {MAX_CONDITIONS} conditions")
        part = tokens[position : position + 3]
        if part and (part[0][0] != "word" or part[0][1].upper() in _KEYWORDS):
            raise WhereError(f"expected a field name, got {part[0][1]!r}")
        if len(part) > 1 and part[1][0] != "op":
            raise WhereError(
                f"expected an operator (= != <> < <= > >=) after {part[0][1]}, got {part[1][1]!r}"
            )
        if len(part) < 3:
            raise WhereError(
                f"ends early: expected field op literal after {_shown(tokens, position)}"
            )
        (_, field), (_, op), (kind_v, literal) = part
        conditions.append(Condition(field, STRING_OPS[op], _literal(kind_v, literal)))
        position += 3
        if position == len(tokens):
            return conditions
        kind, word = tokens[position]
        if kind != "word" or word.upper() != "AND":
            raise WhereError(
                f"expected AND after a condition, got {word!r} (only AND is supported)"
            )
        position += 1


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            snippet = text[position:].strip()[:20]
            raise WhereError(f"cannot read {snippet!r} at character {position + 1}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "number":
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        value = float(text)
        if not math.isfinite(value):
            raise WhereError(f"number {text} is out of range")
        return value
    if kind == "word":
        upper = text.upper()
        if upper == "TRUE":
            return True
        if upper == "FALSE":
            return False
        if upper == "NULL":
            return None
        raise WhereError(f"expected a literal ('text', a number, TRUE, FALSE or NULL), got {text}")
    raise WhereError(f"expected a literal, got operator {text}")


def _shown(tokens: list[tuple[str, str]], position: int) -> str:
    return (
        repr(" ".join(t for _, t in tokens[max(0, position - 3) : position]))
        if position
        else "start"
    )


# -- evaluation -------------------------------------------------------------------------

_MISSING = object()
_KEYWORDS = ("AND", "OR", "NOT", "TRUE", "FALSE", "NULL")


def lookup(data: dict[str, Any], field: str) -> Any:
    value: Any = data
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _as_timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _comparable(field_value: Any, literal: Any) -> tuple[Any, Any] | None:
    kind = _kind(field_value)
    if kind == "timestamp" and isinstance(literal, str):
        literal = _as_timestamp(literal)
        if literal is None:
            return None
        if field_value.tzinfo is None:
            field_value = field_value.replace(tzinfo=UTC)
        return field_value, literal
    if kind != _kind(literal) or kind in ("array", "map"):
        return None
    return field_value, literal


def _equal(field_value: Any, literal: Any) -> bool:
    pair = _comparable(field_value, literal)
    if pair is None:
        return (
            field_value is None
            and literal is None
            or (_kind(field_value) in ("array", "map") and field_value == literal)
        )
    return pair[0] == pair[1]


def holds(condition: Condition, data: dict[str, Any]) -> bool:
    value = lookup(data, condition.field)
    if value is _MISSING:
        return False
    op, literal = condition.op, condition.value
    if op == "==":
        return _equal(value, literal)
    if op == "!=":
        return not _equal(value, literal)
    if op == "in":
        return any(_equal(value, item) for item in literal)
    if op == "not-in":
        return value is not None and not any(_equal(value, item) for item in literal)
    if op == "array-contains":
        return isinstance(value, list) and any(_equal(item, literal) for item in value)
    pair = _comparable(value, literal)
    if pair is None or pair[0] is None:
        return False
    left, right = pair
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def matches(conditions: list[Condition], data: dict[str, Any]) -> bool:
    """True when every condition holds for the document's fields."""
    return all(holds(c, data) for c in conditions)
