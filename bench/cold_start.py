"""Cold import of every function as it ships vs functions-framework plus the Google clients
it needs at start (Firestore for all five: the others load on first use), in fresh
interpreters taking turns.

"As shipped" imports `main.py` from the function's zip (scripts/build_zips.py: the source
with its bytecode), extracted; "from source" imports the same files with no bytecode to
read and none written, which is what every new instance would pay without it (an instance
cannot keep what it compiles). The baseline's libraries have their bytecode, as pip
installs them.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from bench.support import cold_imports, table
from tests.support.scripts import load_script

FUNCTIONS = ("deployments", "packages", "worker", "canary", "events")
BASELINE = "import functions_framework, google.cloud.firestore"
# What the functions need to import: settings are read at start, with auth off locally.
ENV = {"AUTH_ENABLED": "false", "GOOGLE_CLOUD_PROJECT": "cold-start"}
LOAD_MAIN = (
    "import importlib.util\n"
    "spec = importlib.util.spec_from_file_location('main', 'main.py')\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
)


def extracted(name: str, into: Path, bytecode: bool = True) -> Path:
    """The function's zip, as scripts/build_zips.py builds it, extracted under `into`
    (without its `__pycache__` folders unless `bytecode`)."""
    build_zips = load_script("build_zips")
    folder = into / (name if bytecode else f"{name}-source")
    archive = zipfile.ZipFile(io.BytesIO(build_zips.build(name)))
    members = [m for m in archive.namelist() if bytecode or "__pycache__" not in m]
    archive.extractall(folder, members)
    return folder


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        # No bytecode written either (as -B): each run compiles deployq's modules.
        source = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
        shipped = [(LOAD_MAIN, extracted(name, root), ENV) for name in FUNCTIONS]
        compiled = [(LOAD_MAIN, extracted(name, root, False), source) for name in FUNCTIONS]
        times = cold_imports(BASELINE, *shipped, *compiled, runs=11)
    base, ships, sources = times[0], times[1:6], times[6:]
    rows = [
        ["function", "as shipped ms", "ratio (target <= 1.25x)", "from source ms", "ratio"],
    ]
    for name, ms, src in zip(FUNCTIONS, ships, sources, strict=True):
        rows.append([name, f"{ms:.0f}", f"{ms / base:.2f}x", f"{src:.0f}", f"{src / base:.2f}x"])
    print(
        f"\n== cold import (median of 11 fresh interpreters each; baseline: {BASELINE}, "
        f"{base:.0f} ms)"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
