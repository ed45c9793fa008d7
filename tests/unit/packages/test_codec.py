"""Canonical contents, checksums, chunking (no chunk near 1 MiB), files, FK order, job states."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from shared.models.job import FINISHED, JobStatus, can_move
from shared.packages import codec, files
from shared.packages.plan import fk_order


def build(package_type, tables, target=codec.CHUNK_TARGET_BYTES):
    chunks = {}
    writer = codec.ContentsWriter(package_type, lambda cid, chunk: chunks.__setitem__(cid, chunk))
    for spec, records in tables:
        writer.begin_table(spec)
        for record in records:
            writer.add(record)
        writer.end_table()
    checksum, size, stored = writer.finish()
    return checksum, size, stored, chunks


def fetcher(chunks):
    return lambda ids: [chunks[i] for i in ids]


def test_checksum_is_the_sha256_of_the_canonical_contents():
    rows = [{"id": n, "name": f"ü{n}", "price": n / 3} for n in range(3)]
    spec = {
        "name": "t",
        "primary_key": "id",
        "foreign_keys": [{"column": "x", "references": "u.id"}],
    }
    checksum, size, stored, chunks = build("database", [(spec, rows)])
    contents = {"tables": [{**spec, "rows": rows}]}
    text = json.dumps(contents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert checksum == hashlib.sha256(text.encode()).hexdigest()
    assert size == len(text.encode())
    streamed = b"".join(
        codec.iter_contents_text({"package_type": "database", "tables": stored}, fetcher(chunks))
    )
    assert streamed.decode() == text
    assert list(codec.iter_records(stored[0], fetcher(chunks))) == rows


def test_document_contents_and_many_chunks():
    docs = [{"id": f"d{n:05d}", "data": {"blob": "x" * 1000, "n": n}} for n in range(2000)]
    checksum, size, stored, chunks = build("document", [({"name": "c"}, docs)])
    assert len(chunks) > 5
    assert all(
        len(chunk.get("text") or chunk.get("data")) < 900 * 1024 for chunk in chunks.values()
    )
    assert list(codec.iter_records(stored[0], fetcher(chunks))) == docs
    text = json.dumps(
        {"collections": [{"name": "c", "documents": docs}]}, sort_keys=True, separators=(",", ":")
    )
    assert checksum == hashlib.sha256(text.encode()).hexdigest()


def test_a_row_bigger_than_a_chunk_is_split_and_joined():
    big = {"id": 1, "text": "é" * 600_000}  # 1.2 MB of UTF-8
    rows = [{"id": 0}, big, {"id": 2}]
    _, _, stored, chunks = build("database", [({"name": "t", "primary_key": "id"}, rows)])
    assert all(
        len(chunk.get("text") or chunk.get("data")) <= codec.PIECE_MAX_BYTES
        for chunk in chunks.values()
    )
    assert list(codec.iter_records(stored[0], fetcher(chunks))) == rows


def test_value_encoding_round_trip():
    moment = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    value = {"t": moment, "b": b"\x00\xff", "l": [1, {"x": None}], "f": float("inf")}
    encoded = codec.encode_value(value)
    json.dumps(encoded, allow_nan=False)
    assert codec.decode_value(encoded) == value


def test_zip_file_and_reading_it_back():
    package = {
        "id": "p",
        "name": "shop data",
        "version": "1.0",
        "package_type": "document",
        "description": None,
        "metadata": {},
        "checksum": "c",
        "size_bytes": 2,
    }
    contents = [b'{"collections":[]}']
    data = b"".join(files.iter_zip_file(package, contents))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == ["metadata.json", "shop_data-v1.0.json"]
    read = files.read_zip(data)
    assert read["document_data"] == {"collections": []} and read["name"] == "shop data"
    with pytest.raises(codec.PackageFormatError):
        files.read_zip(b"PK\x03\x04 broken")


def test_foreign_key_order_puts_parents_first():
    tables = [
        {"name": "items", "foreign_keys": [{"column": "o", "references": "orders.id"}]},
        {"name": "orders", "foreign_keys": [{"column": "c", "references": "customers.id"}]},
        {"name": "tree", "foreign_keys": [{"column": "p", "references": "tree.id"}]},
        {"name": "customers", "foreign_keys": [{"column": "x", "references": "elsewhere.id"}]},
    ]
    assert [t["name"] for t in fk_order(tables)] == ["tree", "customers", "orders", "items"]
    cycle = [
        {"name": "a", "foreign_keys": [{"column": "b", "references": "b.id"}]},
        {"name": "b", "foreign_keys": [{"column": "a", "references": "a.id"}]},
    ]
    assert [t["name"] for t in fk_order(cycle)] == ["a", "b"]


@pytest.mark.parametrize(
    "current, target, allowed",
    [
        ("queued", "processing", True),
        ("pending", "processing", True),
        ("retry", "processing", True),
        ("processing", "retry", True),
        ("processing", "timeout", True),
        ("queued", "cancelled", True),
        ("completed", "processing", False),
        ("cancelled", "processing", False),
        ("timeout", "completed", False),
        ("queued", "completed", False),
    ],
)
def test_job_transitions(current, target, allowed):
    assert can_move(current, target) is allowed


def test_finished_states_are_final():
    for status in FINISHED:
        assert not any(can_move(status, other) for other in JobStatus)
