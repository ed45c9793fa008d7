"""Cold import of every function's main.py vs functions-framework plus the Google clients
it needs at start (Firestore for all five: the others load on first use), in fresh
interpreters taking turns."""

from __future__ import annotations

from bench.support import cold_imports, table

FUNCTIONS = ("deployments", "packages", "worker", "canary", "events")
BASELINE = "import functions_framework, google.cloud.firestore"
# What the functions need to import: settings are read at start, with auth off locally.
ENV = "import os; os.environ.update(AUTH_ENABLED='false', GOOGLE_CLOUD_PROJECT='cold-start')\n"


def load_main(name: str) -> str:
    return (
        ENV + "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('main', 'functions/{name}/main.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
    )


def main() -> None:
    times = cold_imports(BASELINE, *(load_main(name) for name in FUNCTIONS), runs=11)
    base = times[0]
    rows = [["function", "cold import ms", "baseline ms", "ratio (target <= 1.25x)"]]
    for name, ms in zip(FUNCTIONS, times[1:], strict=True):
        rows.append([name, f"{ms:.0f}", f"{base:.0f}", f"{ms / base:.2f}x"])
    print(f"\n== cold import (median of 11 fresh interpreters each; baseline: {BASELINE})")
    print(table(rows))


if __name__ == "__main__":
    main()
