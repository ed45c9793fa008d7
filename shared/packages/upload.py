"""What an import may cost: bytes, values, records and nesting of an uploaded package, and the
ZIP it may come in.

Every limit is checked before the work it bounds: a ZIP's members, methods and ratios from
its directory before anything is inflated; the inflated bytes while they are read, in
pieces, whatever sizes the archive declares; the JSON's depth and values on its text before
it is decoded (`shared.bodies`); records and per-record nesting before anything is written.
So an import holds at most the inflated text and the objects of at most `MAX_VALUES`
values, whatever the upload.
"""

from __future__ import annotations

import zipfile
import zlib
from typing import Any

from shared import bodies
from shared.errors import BadRequest, PayloadTooLarge

MAX_JSON_BYTES = 64 * 1024 * 1024  # the package's JSON text, inflated from a ZIP
MAX_META_BYTES = 1024 * 1024  # metadata.json beside it
MAX_VALUES = 1_000_000  # JSON values (containers, members, scalars) in one package file
MAX_RECORDS = 200_000  # rows or documents, over all tables and collections
MAX_ZIP_MEMBERS = 16
MAX_ZIP_RATIO = 200  # inflated size / compressed size of one member
# Firestore nests maps and arrays at most 20 levels under a document: a record (a row, or a
# document's data) counts its own object as one more.
MAX_RECORD_DEPTH = bodies.MAX_DEPTH + 1
# The file wraps a record in at most 7 levels (package_data, database_data, tables, a table,
# rows, ...), so a request or file deeper than this holds a record Firestore refuses anyway.
MAX_FILE_DEPTH = MAX_RECORD_DEPTH + 7
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
READ_PIECE = 1024 * 1024
CONTENTS = (("database_data", "tables", "rows"), ("document_data", "collections", "documents"))


class LimitExceeded(PayloadTooLarge):
    code = "import_limit_exceeded"


class ArchiveError(BadRequest):
    code = "invalid_package"


def check_members(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse, from the ZIP's directory alone, what would cost too much or cannot be read."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise LimitExceeded(
            f"the ZIP holds {len(infos)} members; at most {MAX_ZIP_MEMBERS} are accepted"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise ArchiveError(f"ZIP member {info.filename!r} is encrypted")
        if info.compress_type not in ZIP_METHODS:
            raise ArchiveError(
                f"ZIP member {info.filename!r} uses compression method {info.compress_type}; "
                "only stored and deflate are accepted"
            )
        if info.file_size > MAX_JSON_BYTES:
            raise LimitExceeded(
                f"ZIP member {info.filename!r} inflates to {info.file_size} bytes; "
                f"at most {MAX_JSON_BYTES} bytes (64 MiB) are accepted"
            )
        if info.filename.rsplit("/", 1)[-1] == "metadata.json" and info.file_size > MAX_META_BYTES:
            raise LimitExceeded(f"metadata.json is larger than {MAX_META_BYTES} bytes (1 MiB)")
        ratio = info.file_size // max(info.compress_size, 1)
        if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) + 64 * 1024:
            raise LimitExceeded(
                f"ZIP member {info.filename!r} inflates {ratio} times its size; "
                f"at most {MAX_ZIP_RATIO} times is accepted"
            )


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """The inflated bytes of one member, read in pieces into one buffer of its declared size
    (no more is ever inflated: zipfile stops there and checks the CRC)."""
    data = bytearray(info.file_size)
    filled = 0
    try:
        with archive.open(info) as member:
            while piece := member.read(min(READ_PIECE, info.file_size - filled + 1)):
                if filled + len(piece) > info.file_size:
                    raise ArchiveError(f"ZIP member {info.filename!r} is longer than declared")
                data[filled : filled + len(piece)] = piece
                filled += len(piece)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ArchiveError(f"ZIP member {info.filename!r} cannot be read: {_reason(exc)}") from None
    if filled != info.file_size:
        raise ArchiveError(f"ZIP member {info.filename!r} is shorter than declared")
    return data


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "CRC" in text:
        return "bad CRC-32 (the archive is corrupt)"
    if "encrypted" in text or "password" in text:
        return "it is encrypted"
    if isinstance(exc, NotImplementedError):
        return "unsupported compression method"
    return "the compressed data is corrupt or truncated"


def loads(data: bytes | bytearray, name: str) -> Any:
    """The package file's object, its text checked against MAX_FILE_DEPTH and MAX_VALUES first."""
    try:
        return bodies.loads(data, max_depth=MAX_FILE_DEPTH, max_values=MAX_VALUES)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{name} is not valid JSON: {exc}") from None


def check_package(package: Any) -> None:
    """Refuse a decoded package whose records are too many or nested deeper than Firestore
    accepts (413 / 400 naming the limit); anything else is left to the format checks."""
    if not isinstance(package, dict):
        return
    metadata = package.get("metadata")
    if isinstance(metadata, dict) and bodies.depth(metadata) > bodies.MAX_DEPTH - 1:
        raise bodies.TooDeep(
            f"metadata is nested deeper than {bodies.MAX_DEPTH - 1} levels",
            details=[{"field": "metadata", "error": "nested too deeply"}],
        )
    records = 0
    for key, list_key, inner in CONTENTS:
        contents = package.get(key)
        groups = contents.get(list_key) if isinstance(contents, dict) else None
        for group in groups if isinstance(groups, list) else []:
            items = group.get(inner) if isinstance(group, dict) else None
            if not isinstance(items, list):
                continue
            records += len(items)
            if records > MAX_RECORDS:
                raise LimitExceeded(
                    f"the package holds more than {MAX_RECORDS} records; "
                    f"at most {MAX_RECORDS} are accepted"
                )
            for position, item in enumerate(items):
                value = item
                if inner == "documents" and isinstance(item, dict):
                    value = item.get("data")
                if bodies.depth(value) > MAX_RECORD_DEPTH:
                    name = group.get("name")
                    raise bodies.TooDeep(
                        f"{key} {name!r} record {position} is nested deeper than Firestore "
                        f"accepts ({bodies.MAX_DEPTH} levels under the document)",
                        details=[{"field": f"{key}.{name}[{position}]", "error": "too deep"}],
                    )
