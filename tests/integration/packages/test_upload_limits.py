"""What an import may cost: hostile and broken uploads are 400/413 naming the problem, and
refusing them holds little memory (measured in a separate process)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import pytest

from shared.packages import upload
from tests.conftest import ROOT

IMPORT = "/v1/packages/import"
GOOD_FILE = {
    "name": "prices",
    "version": "1",
    "package_type": "database",
    "database_data": {"tables": [{"name": "plans", "primary_key": "id", "rows": [{"id": 1}]}]},
}


def raw_zip(members: list[dict]) -> bytes:
    """A ZIP written by hand, so its directory can say what the data is not.

    Each member: name, data (the stored bytes), method, crc, size (declared inflated size),
    flags.
    """
    out, central = b"", b""
    for member in members:
        name = member["name"].encode()
        data = member["data"]
        fields = (
            20,
            member.get("flags", 0),
            member.get("method", 0),
            0,
            0x21,
            member.get("crc", zlib.crc32(data)),
            len(data),
            member.get("size", len(data)),
            len(name),
        )
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + name + data
        central += (
            struct.pack("<IH", 0x02014B50, 20)
            + struct.pack("<HHHHHIIIHH", *fields, 0)
            + struct.pack("<HHHII", 0, 0, 0, 0, offset)
            + name
        )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0
    )
    return out + central + end


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def member(data: bytes, name: str = "prices-v1.json", **fields) -> dict:
    return {"name": name, "data": data, **fields}


def post_zip(api, headers, data: bytes):
    return api.post(IMPORT, data=data, content_type="application/zip", headers=headers)


def assert_error(response, status: int, *words: str):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert set(body) == {"error", "code", "details"}
    for word in words:
        assert word.lower() in body["error"].lower(), (word, body)


GOOD = json.dumps(GOOD_FILE).encode()


@pytest.mark.parametrize(
    "members, words",
    [
        ([member(GOOD, crc=1)], ["CRC"]),
        ([member(GOOD, flags=1)], ["encrypted"]),
        ([member(GOOD, method=14)], ["compression method"]),
        ([member(GOOD, method=99)], ["compression method"]),
        ([member(deflate(GOOD)[:-8], method=8, crc=zlib.crc32(GOOD), size=len(GOOD))], ["corrupt"]),
        ([member(b"\x00garbage", method=8, size=100)], ["cannot be read"]),
        ([member(b"[" * 5000 + b"]" * 5000)], ["nested"]),
    ],
    ids=["bad-crc", "encrypted", "lzma", "aes", "truncated", "not-deflate", "deep"],
)
def test_broken_zips_are_400(api, headers, members, words):
    assert_error(post_zip(api, headers, raw_zip(members)), 400, *words)


def test_stdlib_zip_with_other_methods_is_400(api, headers, tmp_path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("prices-v1.json", GOOD)
    assert_error(post_zip(api, headers, path.read_bytes()), 400, "compression method")


def test_limits_of_the_archive_are_413(api, headers):
    many = [member(b"{}", name=f"m{i}.txt") for i in range(upload.MAX_ZIP_MEMBERS + 1)]
    assert_error(post_zip(api, headers, raw_zip(many)), 413, "members")
    bomb = b"[" + b"{}," * (20 * 1024 * 1024) + b"{}]"  # 60 MiB that deflate to 60 KiB
    ratio = member(deflate(bomb), method=8, crc=zlib.crc32(bomb), size=len(bomb))
    assert_error(post_zip(api, headers, raw_zip([ratio])), 413, "times its size")
    huge = member(deflate(b"[]"), method=8, size=upload.MAX_JSON_BYTES + 1)
    assert_error(post_zip(api, headers, raw_zip([huge])), 413, "64 MiB")


def test_a_directory_that_understates_the_size_is_cut_off(api, headers):
    bomb = b"[" + b"{}," * (40 * 1024 * 1024) + b"{}]"  # 120 MiB inflated from 120 KiB
    packed = deflate(bomb)
    liar = member(packed, method=8, crc=zlib.crc32(bomb), size=len(packed) * 150)
    response = post_zip(api, headers, raw_zip([liar]))
    assert response.status_code in (400, 413)
    assert_error(response, response.status_code, "ZIP member")


def test_records_and_values_are_bounded(api, headers):
    rows = [{"id": i} for i in range(upload.MAX_RECORDS + 1)]
    many = {**GOOD_FILE, "database_data": {"tables": [{"name": "t", "rows": rows}]}}
    response = api.post(IMPORT, json={"package_data": many}, headers=headers)
    assert_error(response, 413, "records")
    values = {**GOOD_FILE, "metadata": {"list": [0] * (upload.MAX_VALUES + 1)}}
    response = api.post(IMPORT, json={"package_data": values}, headers=headers)
    assert_error(response, 413, "values")


def test_a_record_deeper_than_firestore_accepts_is_400_and_nothing_is_created(api, headers):
    deep: dict = {}
    for _ in range(upload.MAX_RECORD_DEPTH):
        deep = {"a": deep}
    data = {
        "name": "docs",
        "version": "1",
        "package_type": "document",
        "document_data": {"collections": [{"name": "c", "documents": [{"id": "x", "data": deep}]}]},
    }
    response = api.post(IMPORT, json={"package_data": data}, headers=headers)
    assert_error(response, 400, "deeper than Firestore")
    assert api.get("/v1/packages", headers=headers).json["count"] == 0
    # One level less is what Firestore takes: the import goes through.
    data["document_data"]["collections"][0]["documents"][0]["data"] = deep["a"]
    response = api.post(IMPORT, json={"package_data": data}, headers=headers)
    assert response.status_code == 201, response.json


MEASURE = textwrap.dedent(
    """
    import json, sys, tracemalloc
    import functions_framework

    app = functions_framework.create_app("packages", "functions/packages/main.py")
    client = app.test_client()
    headers = {"X-Organisation": "acme"}
    client.get("/v1/packages/none", headers=headers)  # warm: routes, clients
    # and the schemas an import validates with (pydantic loads on the first validation)
    client.post("/v1/packages/import", json={"package_data": {}}, headers=headers)
    payload = open(sys.argv[1], "rb").read()
    content_type = sys.argv[2]
    tracemalloc.start()
    response = client.post(
        "/v1/packages/import", data=payload, content_type=content_type, headers=headers
    )
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({
        "status": response.status_code,
        "body": response.get_json(),
        "peak_bytes": peak,
        "vm_hwm": [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1],
    }))
    """
)
MEGABYTE = 1024 * 1024


def measure(tmp_path, base_env, payload: bytes, content_type: str) -> dict:
    path = tmp_path / "payload"
    path.write_bytes(payload)
    env = {**os.environ, **base_env, "AUTH_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), content_type],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def hostile_zip() -> bytes:
    """~300 KB of ZIP whose one member inflates to 300 MB of `[{},{},...]` (deflate gives
    about 1000:1 at most), its directory claiming 50 MB (under the size limit, at a ratio
    that looks plausible)."""
    piece = b"{}," * (MEGABYTE // 3)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [compressor.compress(b"[")]
    parts += [compressor.compress(piece) for _ in range(300)]
    parts.append(compressor.compress(b"{}]") + compressor.flush())
    packed = b"".join(parts)
    return raw_zip([member(packed, method=8, crc=0, size=50 * MEGABYTE)])


@pytest.mark.parametrize(
    "make, content_type",
    [
        (hostile_zip, "application/zip"),
        (lambda: raw_zip([member(b"[" + b"{}," * (10 * MEGABYTE) + b"{}]")]), "application/zip"),
        (lambda: b"[" + b"{}," * (32 * MEGABYTE // 3 - 1) + b"{}]", "application/json"),
        (
            lambda: (
                b'{"package_data": {"metadata": [' + b"{}," * (32 * MEGABYTE // 3 - 20) + b"{}]}}"
            ),
            "application/json",
        ),
    ],
    ids=["zip-300MB-in-300KB", "zip-stored-30MB", "json-32MiB-list", "json-32MiB-in-package"],
)
def test_hostile_imports_are_refused_in_bounded_memory(
    tmp_path, base_env, make, content_type, record_property
):
    payload = make()
    assert len(payload) <= 32 * MEGABYTE
    result = measure(tmp_path, base_env, payload, content_type)
    assert result["status"] in (400, 413), result
    assert set(result["body"]) == {"error", "code", "details"}
    peak = result["peak_bytes"] / MEGABYTE
    record_property("peak_mib", round(peak, 1))
    print(
        f"payload {len(payload) / MEGABYTE:.2f} MiB: {result['status']} {result['body']['code']}, "
        f"peak {peak:.1f} MiB traced, process peak RSS {int(result['vm_hwm']) / 1024:.0f} MiB"
    )
    # The test client holds one copy of the upload and the function reads another; refusing
    # it costs at most about one more (the inflated member, or the text without its strings).
    assert peak < 3 * len(payload) / MEGABYTE + 55, result
