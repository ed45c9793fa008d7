"""`deployq`: the command-line client of the deployq control plane.

Exit codes: 0 ok, 1 failure (breaking change, rolled back, failed job, API/network
error), 2 usage error, 3 authentication/permission error, 4 not found, 5 conflict.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import __version__
from cli.commands import (
    approvals,
    canary,
    deployments,
    governance,
    openapi,
    organisations,
    packages,
    release,
)
from cli.errors import EXIT_FAILURE, ApiFailure, CliError
from cli.runtime import Runtime
from cli.terminal import SafeStream

EPILOG = """\
credentials (no flags needed): the GitHub Actions OIDC token in a workflow with
`id-token: write`; else GITHUB_TOKEN (a PAT) with --org/DEPLOYQ_ORG; else a Google
identity token (Application Default Credentials or `gcloud auth print-identity-token`)
with --org/DEPLOYQ_ORG. URLs: DEPLOYQ_URL (the deployments function, which names the
others at /v1/discovery); DEPLOYQ_PACKAGES_URL, DEPLOYQ_CANARY_URL override.

exit codes: 0 ok, 1 failure, 2 usage error, 3 auth error, 4 not found, 5 conflict.
"""


def common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options every command takes, before or after the command name."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print JSON for scripts instead of tables",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="no progress lines on stderr",
    )
    group.add_argument(
        "--org",
        default=default,
        metavar="ORG",
        help="organisation (X-Organisation) for PAT and Google credentials [DEPLOYQ_ORG]",
    )
    group.add_argument(
        "--token", default=default, metavar="TOKEN", help="use this bearer token [DEPLOYQ_TOKEN]"
    )
    group.add_argument(
        "--auth",
        default=default,
        choices=("auto", "github-actions", "github-pat", "google", "token", "none"),
        help="force a credential source (default auto) [DEPLOYQ_AUTH]",
    )
    group.add_argument(
        "--audience",
        default=default,
        metavar="AUD",
        help="token audience (OIDC: deployment-queue-api; Google: the function URL)",
    )
    group.add_argument(
        "--url", default=default, metavar="URL", help="deployments function URL [DEPLOYQ_URL]"
    )
    group.add_argument(
        "--packages-url",
        default=default,
        metavar="URL",
        help="packages function URL [DEPLOYQ_PACKAGES_URL, else discovery, else DEPLOYQ_URL]",
    )
    group.add_argument(
        "--canary-url",
        default=default,
        metavar="URL",
        help="canary function URL [DEPLOYQ_CANARY_URL, else discovery, else DEPLOYQ_URL]",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=default,
        metavar="SECONDS",
        help="HTTP timeout per request (default 60)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deployq",
        description="Queue and track deployments, roll back, promote data packages and guard "
        "Cloud Run releases with canary analysis.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deployq {__version__}")
    common_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    common_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    deployments.register(commands, common)
    packages.register(commands, common)
    canary.register(commands, common)
    governance.register(commands, common)
    approvals.register(commands, common)
    organisations.register(commands, common)
    openapi.register(commands, common)
    release.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    runtime = Runtime(args)
    stderr = SafeStream(sys.stderr)
    try:
        code = args.func(runtime)
        return int(code or 0)
    except ApiFailure as exc:
        if runtime.json and exc.body is not None:
            import json

            stderr.write(json.dumps(exc.body) + "\n")
        else:
            lines = exc.lines()
            stderr.write(f"deployq: error: {lines[0]}\n")
            for line in lines[1:]:
                stderr.write(line + "\n")
        return exc.exit_code
    except CliError as exc:
        stderr.write(f"deployq: error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("deployq: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
