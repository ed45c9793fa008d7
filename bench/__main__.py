"""`python -m bench [name ...]`: run every benchmark module (or the named ones).

Process logs go to one scratch directory per run: removed after a clean run, kept (and
named) when a benchmark fails.
"""

import importlib
import shutil
import sys
import tempfile

MODULES = ("deployments", "cold_start", "packages", "canary", "canary_reaction", "console")


def main() -> None:
    names = sys.argv[1:] or MODULES
    scratch = tempfile.mkdtemp(prefix="deployq-bench-")
    tempfile.tempdir = scratch  # every mkdtemp of the benchmarks lands in it
    try:
        for name in names:
            try:
                module = importlib.import_module(f"bench.{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"bench.{name}":
                    print(f"(no benchmark bench/{name}.py)")
                    continue
                raise
            module.main()
    except BaseException:
        print(f"benchmark logs kept in {scratch}", file=sys.stderr)
        raise
    tempfile.tempdir = None
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
