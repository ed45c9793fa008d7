"""Process mode: python -m tests.fakes --port 8086 [--private-key PEM --kid KID] [--seed F]."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from tests.fakes.server import FakeGoogleApis
from tests.fakes.signing import rs256_signer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes",
        description="Fake Cloud Tasks / Cloud Run Admin v2 / Cloud Monitoring v3 gRPC server.",
    )
    parser.add_argument("--port", type=int, default=8086, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--private-key", type=Path, help="PEM RSA key signing OIDC tokens")
    parser.add_argument("--kid", default=None, help="key id put in the JWT header")
    parser.add_argument(
        "--seed",
        type=Path,
        help='JSON {"services": [{"project", "region", "service", '
        '"revisions", "traffic"}]} added at start',
    )
    parser.add_argument(
        "--tag-url-template",
        default="http://127.0.0.1:{port}/{tag}",
        help="traffic tag URL, with {tag} {service} {port} {project} {region}",
    )
    parser.add_argument("--min-backoff", type=float, default=0.1)
    parser.add_argument("--max-backoff", type=float, default=2.0)
    parser.add_argument("--max-attempts", type=int, default=5)
    return parser.parse_args(argv)


def _seed(fake: FakeGoogleApis, path: Path) -> None:
    data = json.loads(path.read_text())
    services = data.get("services", []) if isinstance(data, dict) else data
    for spec in services:
        fake.run.add_service(
            spec["project"],
            spec["region"],
            spec["service"],
            revisions=spec.get("revisions"),
            traffic=spec.get("traffic"),
        )


def main(argv: list[str] | None = None) -> int:
    """Run the fake until SIGINT or SIGTERM."""
    args = _parse_args(argv)
    signer = None
    if args.private_key:
        signer = rs256_signer(args.private_key.read_bytes(), args.kid)
    fake = FakeGoogleApis(
        signer=signer,
        tag_url_template=args.tag_url_template,
        min_backoff=args.min_backoff,
        max_backoff=args.max_backoff,
        max_attempts=args.max_attempts,
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    address = fake.start(args.port)
    try:
        if args.seed:
            _seed(fake, args.seed)
        print(f"fake google apis listening on {address}", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
