"""JSON decoding with bounded cost: nesting depth and number of values are checked on the raw
bytes before `json.loads` builds anything.

Python's decoder recurses once per nesting level, so a body nested a few thousand levels
deep would end in a RecursionError; and a small text such as `[{},{},...]` becomes many
times its size in Python objects. The scan strips string literals with one regular
expression and counts brackets and commas with bytes methods, so it costs a few
milliseconds per MiB and allocates at most one copy of the text without its strings.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from shared.errors import ApiError, BadRequest, PayloadTooLarge

# Firestore's maximum depth of maps and arrays; a body (its top-level object counting as one
# level) never nests deeper, so no value taken from it can be refused by Firestore for depth.
MAX_DEPTH = 20
# Values (containers, scalars and object members) in one ordinary request body.
MAX_VALUES = 100_000

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNED_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


__all__ = ["ApiError", "TooDeep", "TooManyValues", "check", "depth", "loads", "shape"]


class TooDeep(BadRequest):
    code = "too_deep"


class TooManyValues(PayloadTooLarge):
    code = "too_many_values"


def shape(
    data: bytes | str, depth_limit: int | None = None, values_limit: int | None = None
) -> tuple[int, int]:
    """(nesting depth, number of values) of a JSON text, read without parsing it.

    Exact for valid JSON; for invalid JSON an estimate (the decoder refuses it anyway).
    Counting brackets and commas inside strings too gives upper bounds: when those are
    within `depth_limit` and `values_limit`, the bounds are returned without a scan.
    """
    if isinstance(data, str):
        data = data.encode()
    elif json.detect_encoding(data) not in ("utf-8", "utf-8-sig"):
        # UTF-16/32, which json.loads accepts too: scanned as the UTF-8 text it stands for.
        try:
            data = data.decode(json.detect_encoding(data)).encode()
        except UnicodeDecodeError:
            pass  # not text: the decoder refuses it
    opens = data.count(b"[") + data.count(b"{")
    values = opens + data.count(b",") + 1
    if depth_limit is not None and opens <= depth_limit:
        if values_limit is None or values <= values_limit:
            return opens, values
    if b'"' in data:
        data = _STRING.sub(b"", data)
    opens = data.count(b"[") + data.count(b"{")
    values = opens + data.count(b",") + 1
    if values_limit is not None and values > values_limit:
        return 0, values  # refused for its size: its depth does not matter
    if depth_limit is not None and opens <= depth_limit:
        return opens, values
    steps = memoryview(data.translate(_SIGNED_STEPS, _NOT_BRACKET)).cast("b")
    return max(accumulate(steps), default=0), values


def check(
    data: bytes | str, *, max_depth: int = MAX_DEPTH, max_values: int | None = MAX_VALUES
) -> None:
    """Raise TooDeep (400) or TooManyValues (413) naming the limit the JSON text exceeds."""
    depth, values = shape(data, max_depth, max_values)
    if depth > max_depth:
        raise TooDeep(
            f"JSON is nested {depth} levels deep; at most {max_depth} levels are accepted",
            details=[{"field": "body", "error": f"nesting deeper than {max_depth} levels"}],
        )
    if max_values is not None and values > max_values:
        raise TooManyValues(
            f"JSON holds about {values} values; at most {max_values} are accepted",
            details=[{"field": "body", "error": f"more than {max_values} values"}],
        )


def loads(
    data: bytes | str, *, max_depth: int = MAX_DEPTH, max_values: int | None = MAX_VALUES
) -> Any:
    """`json.loads` after `check`; ValueError (as json.loads) for text that is not JSON."""
    check(data, max_depth=max_depth, max_values=max_values)
    try:
        return json.loads(data)
    except RecursionError:  # a limit above the interpreter's stack: still the caller's fault
        raise TooDeep(f"JSON is nested too deeply; at most {max_depth} levels") from None


def depth(value: Any) -> int:
    """Nesting depth of a decoded value (a scalar is 0, `{}` and `[]` are 1), iteratively."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
