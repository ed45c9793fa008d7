#!/usr/bin/env python3
"""Audit the locked dependencies (requirements.txt, requirements-dev.txt) for known
vulnerabilities with pip-audit, against PyPI's advisory data.

Exit 1 when a locked version has a known vulnerability. Where the registry cannot answer
(no network to it, or an index that does not serve PyPI's per-release JSON), the audit is
skipped with one line saying so, and exits 0: the lock still installs only the hashed files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.txt", "requirements-dev.txt")
TIMEOUT_SECONDS = 300


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "--require-hashes", "--disable-pip"]
        for lock in LOCKS:
            command += ["-r", str(ROOT / lock)]
        command += ["--progress-spinner", "off", "-f", "json", "-o", str(report)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return skip(f"the advisory database did not answer within {TIMEOUT_SECONDS} s")
        if not report.exists():
            lines = (done.stderr or done.stdout or "no output").strip().splitlines()
            if any(w in " ".join(lines).lower() for w in ("connection", "resolve", "timed out")):
                return skip("the advisory database (PyPI) cannot be reached")
            print(f"audit: pip-audit failed: {lines[-1] if lines else 'no output'}")
            return 1
        dependencies = json.loads(report.read_text()).get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    unanswered = [d for d in dependencies if "not found on PyPI" in (d.get("skip_reason") or "")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            where = f"{dependency['name']} {dependency['version']}"
            print(f"audit: {where}: {vuln['id']} (fixed in {fixes})")
    if vulnerable:
        print(f"audit: {len(vulnerable)} locked dependencies have known vulnerabilities")
        return 1
    if unanswered:
        return skip(
            f"the registry does not answer for {len(unanswered)} of {len(dependencies)} locked "
            "releases (PyPI's per-release JSON is not served here)"
        )
    print(f"audit: no known vulnerabilities in {len(dependencies)} locked dependencies")
    return 0


def skip(reason: str) -> int:
    print(f"audit: skipped, {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
