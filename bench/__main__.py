"""`python -m bench [name ...]`: run every benchmark module (or the named ones)."""

import importlib
import sys

MODULES = ("deployments", "packages", "canary")


def main() -> None:
    names = sys.argv[1:] or MODULES
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"(no benchmark bench/{name}.py)")
                continue
            raise
        module.main()


if __name__ == "__main__":
    main()
