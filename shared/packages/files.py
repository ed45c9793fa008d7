"""The files of a package: the JSON object generate writes (alone or in a ZIP with
`metadata.json`) and import reads back, checked before anything is stored."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from shared import clock
from shared.packages.codec import (
    DATABASE,
    PackageFormatError,
    contents_key,
    data_key,
    invalid_id,
    key_text,
)

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
