"""Start and stop the emulators and local processes: free port, poll for readiness, kill group."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

SDK_ROOTS = ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    candidates = list(SDK_ROOTS)
    if gcloud:
        candidates.insert(0, str(Path(os.path.realpath(gcloud)).parent.parent))
    for root in candidates:
        if (Path(root) / "platform").is_dir():
            return Path(root)
    return None


def emulator_command(kind: str, port: int) -> list[str]:
    """The command starting an emulator directly (skipping gcloud's slow start-up)."""
    root = sdk_root()
    if kind == "firestore":
        script = root and root / "platform/cloud-firestore-emulator/cloud_firestore_emulator"
        if script and script.exists():
            return [str(script), "start", "--host=127.0.0.1", f"--port={port}"]
        return ["gcloud", "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}"]
    if kind == "pubsub":
        script = root and root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
        if script and script.exists():
            return [str(script), "--host=127.0.0.1", f"--port={port}"]
        return ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}"]
    raise ValueError(kind)


class Process:
    """A child process in its own process group, stopped as a group."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict | None = None,
        log: Path | None = None,
        cwd: str | None = None,
    ):
        self.command = command
        self.log_path = log
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Poll `url` until it answers (any status) or fail with the log's tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.command[0]} exited: {self.tail()}")
            try:
                requests.get(url, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.command[0]} not ready at {url} after {timeout}s: {self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if self.log_path and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


class Emulator:
    """A Firestore or Pub/Sub emulator on a free loopback port."""

    def __init__(self, kind: str, log_dir: Path, port: int | None = None):
        self.kind = kind
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.process = Process(emulator_command(kind, self.port), log=log_dir / f"{kind}.log")
        self.process.wait_http(f"http://{self.host}/", timeout=90)

    def wipe(self, project: str, database: str = "(default)") -> None:
        """Delete every document of a Firestore database (the emulator's reset endpoint)."""
        requests.delete(
            f"http://{self.host}/emulator/v1/projects/{project}/databases/{database}/documents",
            timeout=30,
        )

    def stop(self) -> None:
        self.process.stop()


def start_function(
    name: str, port: int, env: dict[str, str], log_dir: Path, source: str | None = None
) -> Process:
    """A function as DESIGN.md runs it: functions-framework from the repository root."""
    root = Path(__file__).resolve().parents[2]
    command = [
        sys.executable,
        "-m",
        "functions_framework",
        f"--source={source or f'functions/{name}/main.py'}",
        f"--target={name}",
        f"--port={port}",
        "--host=127.0.0.1",
    ]
    if name == "events":
        command.append("--signature-type=cloudevent")
    full_env = {**os.environ, **env, "PYTHONPATH": str(root)}
    process = Process(command, env=full_env, log=log_dir / f"{name}-{port}.log", cwd=str(root))
    process.port = port
    if name != "events":
        process.wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
    return process
