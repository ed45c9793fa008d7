"""Dead code in shared/, functions/ and cli/: vulture at 60% confidence, which reports unused
functions, methods, classes, properties and variables.

Fields of pydantic models and members of enums (class-level variables in `shared/models/`
and `shared/schemas/`) are the data the API serves and reads by name, so they are not
reported; entry points that frameworks call are listed in `scripts/dead_code_whitelist.py`.
Exits 1 when anything is reported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vulture import Vulture

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["shared", "functions", "cli", "scripts/dead_code_whitelist.py"]
MIN_CONFIDENCE = 60
IGNORE_DECORATORS = [
    "@field_validator",
    "@model_validator",
    "@functions_framework.http",
    "@functions_framework.cloud_event",
]
IGNORE_NAMES = ["model_config"]
# Routes name their models as text ("shared.schemas.governance:Policy", or M + "Policy"),
# loaded when first served.
MODEL_REFERENCE = re.compile(r'(?:schemas\.\w+:|\b[A-Z] \+ ")(\w+)"')


def referenced_models() -> list[str]:
    """Model names that routes refer to as text."""
    names = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("functions/*/main.py")]:
        names.update(MODEL_REFERENCE.findall(path.read_text()))
    return sorted(names)


def is_model_field(item) -> bool:
    return item.typ == "variable" and Path(item.filename).parent.name in ("models", "schemas")


def main() -> int:
    ignore = IGNORE_NAMES + referenced_models()
    vulture = Vulture(ignore_names=ignore, ignore_decorators=IGNORE_DECORATORS)
    vulture.scavenge([str(ROOT / p) for p in PATHS])
    dead = [
        item
        for item in vulture.get_unused_code(min_confidence=MIN_CONFIDENCE)
        if not is_model_field(item)
    ]
    for item in dead:
        print(item.get_report())
    return 1 if dead else 0


if __name__ == "__main__":
    sys.exit(main())
