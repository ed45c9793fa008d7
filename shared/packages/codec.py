"""How package contents are written down: JSON-safe values, canonical text, chunks, files.

The contents of a package are one canonical JSON text (sorted keys, no spaces):
`{"tables":[{"foreign_keys":..,"name":..,"primary_key":..,"rows":[..]}]}` or
`{"collections":[{"documents":[{"data":..,"id":..}],"name":..}]}`. Its sha256
is the package checksum and its length `size_bytes`, so name, id and dates do
not change them. The text is stored in chunks (each well under Firestore's
1 MiB document limit) that concatenate back to it exactly, so generate streams
stored text and deploy parses one chunk at a time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import zipfile
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


# -- package files ----------------------------------------------------------------------

FILE_FIELDS = (
    "id",
    "name",
    "version",
    "package_type",
    "description",
    "metadata",
    "checksum",
    "size_bytes",
)


def file_name(package: dict[str, Any]) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in package["name"])
    version = "".join(c if c.isalnum() or c in "-_." else "_" for c in package["version"])
    return f"{safe}-v{version}.json"


def file_metadata(package: dict[str, Any]) -> dict[str, Any]:
    meta = {key: package.get(key) for key in FILE_FIELDS}
    meta["generated_at"] = clock.now_text()
    return meta


def iter_json_file(package: dict[str, Any], contents: Iterable[bytes]) -> Iterator[bytes]:
    """The generated JSON file: the package's fields, then its contents under database_data or
    document_data."""
    head = {key: package.get(key) for key in FILE_FIELDS}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    yield (text[:-1] + ',"' + data_key(package["package_type"]) + '":').encode()
    yield from contents
    yield b"}"


class _Pipe(io.RawIOBase):
    """A write-only stream whose written bytes are collected for a generator to yield."""

    def __init__(self):
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts = []
        return data


def iter_zip_file(package: dict[str, Any], contents: Iterable[bytes]) -> Iterator[bytes]:
    """A ZIP holding `<name>-v<version>.json` and `metadata.json`, produced as a stream."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(file_name(package), mode="w", force_zip64=True) as entry:
            for piece in iter_json_file(package, contents):
                entry.write(piece)
                if sum(len(p) for p in pipe.parts) >= 64 * 1024:
                    yield pipe.take()
        archive.writestr("metadata.json", json.dumps(file_metadata(package), indent=2))
    yield pipe.take()


def read_zip(data: bytes) -> dict[str, Any]:
    """The package object of a generated ZIP; PackageFormatError naming the problem otherwise,
    or the 400/413 of `upload` naming the limit an archive exceeds."""
    from shared.packages import upload

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        raise PackageFormatError("the body is not a ZIP archive") from None
    with archive:
        infos = archive.infolist()
        upload.check_members(infos)
        packages = [
            i
            for i in infos
            if i.filename.endswith(".json") and i.filename.rsplit("/", 1)[-1] != "metadata.json"
        ]
        if len(packages) != 1:
            raise PackageFormatError(
                "the ZIP must hold exactly one <name>-v<version>.json besides metadata.json"
            )
        meta_infos = [i for i in infos if i.filename.rsplit("/", 1)[-1] == "metadata.json"]
        meta = None
        if meta_infos:
            meta = upload.loads(upload.read_member(archive, meta_infos[0]), "metadata.json")
        package = upload.loads(upload.read_member(archive, packages[0]), packages[0].filename)
        declared = meta.get("checksum") if isinstance(meta, dict) else None
        own = package.get("checksum") if isinstance(package, dict) else None
        if declared and own not in (None, declared):
            raise PackageFormatError("metadata.json checksum differs from the package's")
    return package


def validate_contents(package_type: str, contents: Any) -> list[dict[str, Any]]:
    """Check the structure of imported contents; returns the list of tables/collections."""
    key = contents_key(package_type)
    where = data_key(package_type)
    if not isinstance(contents, dict) or not isinstance(contents.get(key), list):
        raise PackageFormatError(f"{where} must be an object with a {key} list")
    names = set()
    for index, table in enumerate(contents[key]):
        at = f"{where}.{key}[{index}]"
        if (
            not isinstance(table, dict)
            or not isinstance(table.get("name"), str)
            or not table["name"]
        ):
            raise PackageFormatError(f"{at} needs a name")
        if invalid_id(table["name"]) or table["name"] in names:
            raise PackageFormatError(f"{at}.name {table['name']!r} is invalid or repeated")
        names.add(table["name"])
        if package_type == DATABASE:
            _validate_table(table, at)
        else:
            documents = table.get("documents")
            if not isinstance(documents, list):
                raise PackageFormatError(f"{at}.documents must be a list")
            for position, document in enumerate(documents):
                if (
                    not isinstance(document, dict)
                    or not isinstance(document.get("id"), str)
                    or invalid_id(document["id"])
                    or not isinstance(document.get("data"), dict)
                ):
                    raise PackageFormatError(
                        f'{at}.documents[{position}] must be {{"id": text, "data": object}}'
                    )
    return contents[key]


def _validate_table(table: dict[str, Any], at: str) -> None:
    pk = table.get("primary_key", "id")
    if not isinstance(pk, str) or not pk:
        raise PackageFormatError(f"{at}.primary_key must be a column name")
    fks = table.get("foreign_keys", [])
    if not isinstance(fks, list):
        raise PackageFormatError(f"{at}.foreign_keys must be a list")
    for position, fk in enumerate(fks):
        if (
            not isinstance(fk, dict)
            or not isinstance(fk.get("column"), str)
            or not isinstance(fk.get("references"), str)
            or fk["references"].count(".") != 1
        ):
            raise PackageFormatError(
                f'{at}.foreign_keys[{position}] must be {{"column", "references": "table.column"}}'
            )
    rows = table.get("rows")
    if not isinstance(rows, list):
        raise PackageFormatError(f"{at}.rows must be a list")
    seen = set()
    for position, row in enumerate(rows):
        if not isinstance(row, dict) or row.get(pk) is None:
            raise PackageFormatError(f"{at}.rows[{position}] must be an object with {pk}")
        key = key_text(row[pk])
        if invalid_id(key) or key in seen:
            raise PackageFormatError(f"{at}.rows[{position}].{pk} {key!r} is invalid or repeated")
        seen.add(key)


def now() -> datetime:
    return datetime.now(UTC)
