"""How results are shown: aligned plain-text tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from cli.terminal import clean


def text(value: Any) -> str:
    """One table cell: null as `-`, booleans lower-case, nested values as compact JSON."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return clean(str(value)).replace("\n", " ").replace("\t", " ")


def table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str | tuple[str, str]],
    stream: TextIO | None = None,
) -> None:
    """Print rows as aligned columns; a column is a key or (key, heading)."""
    stream = stream or sys.stdout
    cols = [(c, c.upper()) if isinstance(c, str) else c for c in columns]
    cells = [[heading for _, heading in cols]]
    cells += [[text(_lookup(row, key)) for key, _ in cols] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
    for line in cells:
        stream.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        stream.write("\n")


def record(
    item: dict[str, Any], fields: Sequence[str] | None = None, stream: TextIO | None = None
) -> None:
    """Print one object as `key: value` lines, keys aligned."""
    stream = stream or sys.stdout
    keys = list(fields) if fields else list(item)
    width = max((len(k) for k in keys), default=0)
    for key in keys:
        stream.write(f"{key.ljust(width)}  {text(_lookup(item, key))}\n")


def dump_json(data: Any, stream: TextIO | None = None) -> None:
    """Print data as indented JSON (the `--json` output)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(data, indent=2, sort_keys=False, default=str))
    stream.write("\n")


def _lookup(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
