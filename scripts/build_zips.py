#!/usr/bin/env python3
"""Build one Cloud Functions source zip per function: build/zips/<name>-<sha>.zip.

Each zip holds functions/<name>/* and requirements.txt (the hashed lock, so the build
installs exactly the locked files) at its root and the
shared/ package, which is what the Python buildpack of Cloud Functions gen2
expects (main.py at the root, dependencies from requirements.txt). Zips are
reproducible: entries sorted, fixed timestamps and permissions, so the same
sources give the same bytes and the same <sha> (the first 16 hex digits of
the zip's SHA-256), and Terraform redeploys only what changed.

Each module also ships its bytecode (`__pycache__/<name>.<tag>.pyc`, hash-checked so a
zip's fixed timestamps do not make it stale), compiled by the Python running this script:
Cloud Build runs it with the runtime's Python (3.12), so a new instance imports deployq's
modules without compiling them (an instance cannot keep what it compiles). Another Python's
runtime ignores the files and compiles, as it would without them.

Also writes <out>/function_zips.tfvars.json, {"function_zips": {name: path}},
for `terraform apply -var-file=...` (paths are absolute).

Usage: scripts/build_zips.py [--out build/zips] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import marshal
import sys
import zipfile
from pathlib import Path, PurePosixPath

FUNCTIONS = ("deployments", "packages", "worker", "canary", "events")
ROOT = Path(__file__).resolve().parent.parent
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _wanted(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"


def entries(name: str, root: Path = ROOT) -> dict[str, Path]:
    """Archive name -> source file for one function's zip."""
    function_dir = root / "functions" / name
    if not (function_dir / "main.py").is_file():
        raise FileNotFoundError(f"functions/{name}/main.py is missing")
    files = {
        p.relative_to(function_dir).as_posix(): p for p in function_dir.rglob("*") if _wanted(p)
    }
    shared = root / "shared"
    files.update({p.relative_to(root).as_posix(): p for p in shared.rglob("*") if _wanted(p)})
    files["requirements.txt"] = root / "requirements.txt"
    return files


def bytecode(arcname: str, source: bytes) -> tuple[str, bytes]:
    """The archive name and the hash-checked `.pyc` of one module, for this Python."""
    path = PurePosixPath(arcname)
    name = f"{path.stem}.{sys.implementation.cache_tag}.pyc"
    code = compile(source, arcname, "exec", dont_inherit=True)
    header = importlib.util.MAGIC_NUMBER + (0b11).to_bytes(4, "little")  # hash-based, checked
    data = header + importlib.util.source_hash(source) + marshal.dumps(code)
    return (path.parent / "__pycache__" / name).as_posix(), data


def contents(name: str, root: Path = ROOT) -> dict[str, bytes]:
    """Archive name -> bytes of one function's zip: its files and its modules' bytecode."""
    files = {arcname: source.read_bytes() for arcname, source in entries(name, root).items()}
    for arcname, source in list(files.items()):
        if arcname.endswith(".py"):
            pyc_name, pyc = bytecode(arcname, source)
            files[pyc_name] = pyc
    return files


def unhashed_requirements(path: Path) -> list[str]:
    """Requirements of a lock file not pinned with `==` and a `--hash` (pip then installs it
    in hash-checking mode, as Cloud Functions' build does with the shipped file)."""
    text = path.read_text().replace("\\\n", " ")
    problems = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = line.split()[0]
        if "==" not in name or "--hash=sha256:" not in line:
            problems.append(name)
    return problems


def build(name: str, root: Path = ROOT) -> bytes:
    """The zip of one function, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(contents(name, root).items()):
            info = zipfile.ZipInfo(arcname, date_time=EPOCH)
            info.create_system = 3  # unix, so external_attr means the same everywhere
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "zips", help="output folder")
    parser.add_argument("--only", nargs="+", choices=FUNCTIONS, help="build only these functions")
    args = parser.parse_args(argv)

    names = args.only or list(FUNCTIONS)
    missing = [n for n in names if not (ROOT / "functions" / n / "main.py").is_file()]
    if missing:
        print(
            f"build_zips: missing {', '.join(f'functions/{n}/main.py' for n in missing)}",
            file=sys.stderr,
        )
        return 1
    if not (ROOT / "requirements.txt").is_file():
        print("build_zips: requirements.txt is missing at the repository root", file=sys.stderr)
        return 1
    unhashed = unhashed_requirements(ROOT / "requirements.txt")
    if unhashed:
        print(
            f"build_zips: requirements.txt must be the hashed lock (make lock); "
            f"not pinned with a hash: {', '.join(unhashed)}",
            file=sys.stderr,
        )
        return 1

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    zips: dict[str, str] = {}
    for name in names:
        data = build(name)
        digest = hashlib.sha256(data).hexdigest()[:16]
        for stale in out.glob(f"{name}-*.zip"):
            stale.unlink()
        path = out / f"{name}-{digest}.zip"
        path.write_bytes(data)
        zips[name] = str(path)
        print(f"{path} ({len(data)} bytes)")

    tfvars = out / "function_zips.tfvars.json"
    tfvars.write_text(json.dumps({"function_zips": zips}, indent=2, sort_keys=True) + "\n")
    print(tfvars)
    return 0


if __name__ == "__main__":
    sys.exit(main())
