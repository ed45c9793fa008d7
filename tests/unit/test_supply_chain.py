"""The supply chain: hashed locks that satisfy the declared bounds, installed with
--require-hashes everywhere, shipped in the function zips, and audited."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{name: (version, hashes)} of a pip-compile lock; fails on anything unpinned."""
    text = path.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        spec, *options = line.split()
        assert "==" in spec, f"{path.name}: {spec} is not pinned"
        hashes = [o.split(":", 1)[1] for o in options if o.startswith("--hash=sha256:")]
        assert hashes, f"{path.name}: {spec} has no hash"
        name, version = spec.split("==")
        pins[name.lower().replace("_", "-")] = (version, hashes)
    return pins


def declared(path: Path) -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


RUNTIME, DEV = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")


@pytest.mark.parametrize(
    "source, lock", [("requirements.in", RUNTIME), ("requirements-dev.in", DEV)]
)
def test_locks_satisfy_the_declared_bounds(source, lock):
    for requirement in declared(ROOT / source):
        name = requirement.name.lower().replace("_", "-")
        assert name in lock, f"{name} of {source} is not locked"
        assert requirement.specifier.contains(lock[name][0], prereleases=True), (name, lock[name])


def test_the_dev_lock_holds_the_runtime_lock_versions():
    for name, (version, _) in RUNTIME.items():
        assert DEV[name][0] == version, name


@pytest.mark.parametrize(
    "name, floor",
    [
        ("pyjwt", "2.13"),  # PyJWKClient(cooldown_duration=...)
        ("requests", "2.32.4"),
        ("cryptography", "46.0.5"),
        ("werkzeug", "3.1.4"),
        ("urllib3", "2.6.3"),
    ],
)
def test_lower_bounds_exclude_releases_without_the_api_or_with_advisories(name, floor):
    [requirement] = [r for r in declared(ROOT / "requirements.in") if r.name.lower() == name]
    lowest = min(Version(s.version) for s in requirement.specifier if s.operator == ">=")
    assert lowest >= Version(floor)


def test_the_pyjwt_api_used_exists_in_the_locked_release():
    import inspect

    import jwt

    assert "cooldown_duration" in inspect.signature(jwt.PyJWKClient.__init__).parameters
    assert Version(jwt.__version__) >= Version("2.13")


def test_every_install_requires_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r requirements-dev.txt" in makefile
    assert "--upgrade pip" not in makefile and "--no-build-isolation" in makefile
    installs = re.findall(r"pip install[^\n]*", (ROOT / "cloudbuild.yaml").read_text())
    assert installs and all("--require-hashes" in i for i in installs if "-r " in i), installs
    assert "scripts/audit_deps.py" in makefile.split("lint:", 1)[1].split("\n\n", 1)[0]


def test_function_zips_ship_the_hashed_lock(tmp_path):
    build_zips = load_script("build_zips")
    archive = zipfile.ZipFile(__import__("io").BytesIO(build_zips.build("worker")))
    shipped = archive.read("requirements.txt").decode()
    assert shipped == (ROOT / "requirements.txt").read_text() and "--hash=sha256:" in shipped
    unhashed = tmp_path / "requirements.txt"
    unhashed.write_text("requests>=2\n")
    assert build_zips.unhashed_requirements(unhashed) == ["requests>=2"]


def audit_module():
    return load_script("audit_deps")


@pytest.mark.parametrize(
    "dependencies, code, words",
    [
        (
            [
                {
                    "name": "pyjwt",
                    "version": "2.10.0",
                    "vulns": [{"id": "GHSA-x", "fix_versions": ["2.10.1"]}],
                }
            ],
            1,
            "GHSA-x",
        ),
        ([{"name": "pyjwt", "version": "2.15.1", "vulns": []}], 0, "no known vulnerabilities"),
        (
            [{"name": "pyjwt", "version": "2.15.1", "skip_reason": "Dependency not found on PyPI"}],
            0,
            "skipped",
        ),
    ],
)
def test_the_audit_fails_on_advisories_and_says_when_it_cannot_run(
    monkeypatch, capsys, dependencies, code, words
):
    module = audit_module()

    def fake_run(command, **kwargs):
        report = Path(command[command.index("-o") + 1])
        report.write_text(json.dumps({"dependencies": dependencies}))
        return type("Done", (), {"returncode": 0, "stdout": "", "stderr": ""})()

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    assert module.main() == code
    out = capsys.readouterr().out
    assert words in out and len(out.strip().splitlines()) <= 2
