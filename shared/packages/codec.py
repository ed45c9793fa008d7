"""How package contents are written down: JSON-safe values, canonical text, chunks, files.

The contents of a package are one canonical JSON text (sorted keys, no spaces):
`{"tables":[{"foreign_keys":..,"name":..,"primary_key":..,"rows":[..]}]}` or
`{"collections":[{"documents":[{"data":..,"id":..}],"name":..}]}`. Its sha256
is the package checksum and its length `size_bytes`, so name, id and dates do
not change them. The text is stored in chunks (each well under Firestore's
1 MiB document limit) that concatenate back to it exactly, so generate streams
stored text and deploy parses one chunk at a time. The files generate writes and import
reads are in `shared.packages.files`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from shared import clock

CHUNK_TARGET_BYTES = 256 * 1024
PIECE_MAX_BYTES = 768 * 1024
DATABASE = "database"
DOCUMENT = "document"


class PackageFormatError(ValueError):
    """A package file or object that is malformed; the message names the problem."""


# -- Firestore values <-> JSON ------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A Firestore field value as JSON: timestamps, bytes, geo points and references tagged."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, datetime):
        return {"$timestamp": clock.to_text(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return {"$geopoint": [value.latitude, value.longitude]}
    if hasattr(value, "path") and hasattr(value, "parent"):
        return {"$reference": value.path}
    return str(value)


def decode_value(value: Any, db: Any = None) -> Any:
    """The Firestore value of encoded JSON (references resolve in `db`, the target database)."""
    if isinstance(value, list):
        return [decode_value(v, db) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$timestamp" and isinstance(inner, str):
            return clock.parse(inner)
        if tag == "$bytes" and isinstance(inner, str):
            return base64.b64decode(inner)
        if tag == "$float" and isinstance(inner, str):
            return float(inner)
        if tag == "$geopoint" and isinstance(inner, list) and len(inner) == 2:
            from google.cloud.firestore_v1 import GeoPoint

            return GeoPoint(inner[0], inner[1])
        if tag == "$reference" and isinstance(inner, str) and db is not None:
            return db.document(inner)
    return {k: decode_value(v, db) for k, v in value.items()}


def canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def invalid_id(text: str) -> str | None:
    """Why `text` cannot be a Firestore document or collection id, or None when it can."""
    if not text:
        return "is empty"
    if "/" in text:
        return "contains '/'"
    if text in (".", "..") or (text.startswith("__") and text.endswith("__")):
        return "is reserved by Firestore"
    if len(text.encode()) > 1500:
        return "is longer than 1500 bytes"
    return None


def key_text(value: Any) -> str:
    """The document id of a primary key value."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)  # what canonical() gives, without the JSON encoder
    return canonical(value)


# -- canonical text of a table / collection ---------------------------------------------


def table_prefix(package_type: str, spec: dict[str, Any]) -> str:
    if package_type == DATABASE:
        return (
            '{"foreign_keys":'
            + canonical(spec.get("foreign_keys", []))
            + ',"name":'
            + canonical(spec["name"])
            + ',"primary_key":'
            + canonical(spec["primary_key"])
            + ',"rows":['
        )
    return '{"documents":['


def table_suffix(package_type: str, spec: dict[str, Any]) -> str:
    if package_type == DATABASE:
        return "]}"
    return '],"name":' + canonical(spec["name"]) + "}"


def contents_key(package_type: str) -> str:
    return "tables" if package_type == DATABASE else "collections"


def data_key(package_type: str) -> str:
    return "database_data" if package_type == DATABASE else "document_data"


ChunkSink = Callable[[str, dict[str, Any]], None]


class ContentsWriter:
    """Builds the canonical contents from records, hashing it and cutting it into chunks.

    `sink(chunk_id, chunk)` receives each chunk as it fills; `finish()` returns
    (checksum, size_bytes, tables) where tables describe each table and its chunks.
    """

    def __init__(self, package_type: str, sink: ChunkSink | None = None):
        self.package_type = package_type
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0
        self.tables: list[dict[str, Any]] = []
        self._buffer: list[str] = []
        self._buffered = 0
        self._rows_in_buffer = 0
        self._seq = 0
        self._table: dict[str, Any] | None = None
        self._first_row = True
        self._emit('{"' + contents_key(package_type) + '":[')

    def _emit(self, text: str) -> None:
        data = text.encode()
        self.hash.update(data)
        self.size += len(data)

    def begin_table(self, spec: dict[str, Any]) -> None:
        if self.tables:
            self._emit(",")
        self._emit(table_prefix(self.package_type, spec))
        self._table = {**spec, "records": 0, "chunks": []}
        self.tables.append(self._table)
        self._first_row = True

    def add(self, record: dict[str, Any]) -> None:
        """One row (database) or {"id", "data"} (document), already JSON-safe."""
        text = canonical(record)
        if not self._first_row:
            text = "," + text
        self._first_row = False
        self._emit(text)
        self._table["records"] += 1
        data = text.encode()
        if len(data) > PIECE_MAX_BYTES:
            # a row too big for one chunk is stored as byte pieces, joined again on read
            self._flush()
            for start in range(0, len(data), PIECE_MAX_BYTES):
                last = start + PIECE_MAX_BYTES >= len(data)
                self._write_chunk(
                    data[start : start + PIECE_MAX_BYTES], complete=last, rows=1 if last else 0
                )
            return
        self._buffer.append(text)
        self._buffered += len(data)
        self._rows_in_buffer += 1
        if self._buffered >= CHUNK_TARGET_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        rows = self._rows_in_buffer
        self._write_chunk("".join(self._buffer).encode(), complete=True, rows=rows)
        self._buffer, self._buffered, self._rows_in_buffer = [], 0, 0

    def _write_chunk(self, data: bytes, *, complete: bool, rows: int) -> None:
        chunk_id = f"{self._seq:06d}"
        self._seq += 1
        self._table["chunks"].append(chunk_id)
        if self.sink is not None:
            # pieces of a split row are stored as bytes, so a cut inside a character is safe
            chunk = {"seq": self._seq - 1, "complete": complete, "rows": rows}
            if _is_utf8(data):
                chunk["text"] = data.decode()
            else:
                chunk["data"] = data
            self.sink(chunk_id, chunk)

    def end_table(self) -> None:
        self._flush()
        self._emit(table_suffix(self.package_type, self._table))
        self._table = None

    def finish(self) -> tuple[str, int, list[dict[str, Any]]]:
        self._emit("]}")
        return self.hash.hexdigest(), self.size, self.tables


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def chunk_bytes(chunk: dict[str, Any]) -> bytes:
    if "text" in chunk:
        return chunk["text"].encode()
    return bytes(chunk["data"])


ChunkFetch = Callable[[list[str]], Iterable[dict[str, Any]]]


def iter_records(table: dict[str, Any], fetch: ChunkFetch, prefetch: int = 4) -> Iterator[dict]:
    """The records of one stored table, parsed one chunk at a time (`fetch(ids)` in order)."""
    ids = list(table.get("chunks", []))
    pending = b""
    for start in range(0, len(ids), prefetch):
        for chunk in fetch(ids[start : start + prefetch]):
            pending += chunk_bytes(chunk)
            if not chunk.get("complete", True):
                continue
            text = pending.decode()
            pending = b""
            if text.startswith(","):
                text = text[1:]
            if text:
                yield from json.loads("[" + text + "]")


def iter_contents_text(
    package: dict[str, Any], fetch: ChunkFetch, prefetch: int = 4
) -> Iterator[bytes]:
    """The canonical contents text, piece by piece, from stored chunks."""
    package_type = package["package_type"]
    yield ('{"' + contents_key(package_type) + '":[').encode()
    for index, table in enumerate(package.get("tables", [])):
        if index:
            yield b","
        yield table_prefix(package_type, table).encode()
        ids = list(table.get("chunks", []))
        for start in range(0, len(ids), prefetch):
            for chunk in fetch(ids[start : start + prefetch]):
                yield chunk_bytes(chunk)
        yield table_suffix(package_type, table).encode()
    yield b"]}"


def now() -> datetime:
    return datetime.now(UTC)
