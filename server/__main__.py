"""Command line: `python -m server serve | migrate | token | seed | dev`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib import metadata

from server.core.system_pg import EmbeddedPostgresUnavailable
from server.settings import Settings, SettingsError

DISTRIBUTION = "auction-payment-server"


def version() -> str:
    """The installed distribution's version (pyproject.toml is the one source)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("serve", help="run the server (HOST, PORT)")
    commands.add_parser("migrate", help="migrate the database to the newest schema")

    token = commands.add_parser("token", help="print a JWT signed with JWT_SECRET")
    token.add_argument("--sub", required=True)
    token.add_argument("--role", default="bidder", choices=["bidder", "seller", "admin"])
    token.add_argument("--email")
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")

    seed = commands.add_parser("seed", help="create demo users and lots")
    seed.add_argument("--minutes", type=float, default=3.0, help="first demo lot closes in")

    dev = commands.add_parser(
        "dev", help="development mode: generated secrets, migrate, seed, serve"
    )
    dev.add_argument("--no-seed", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    dev = args.command == "dev"
    try:
        settings = Settings.from_env(dev=dev)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2

    if args.command == "token":
        from server.core.auth import issue_token

        print(
            issue_token(
                settings,
                sub=args.sub,
                role=args.role,
                email=args.email,
                name=args.name,
                ttl_seconds=args.ttl,
            )
        )
        return 0

    try:
        return _run(args, settings)
    except EmbeddedPostgresUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from server import cli

    if args.command == "migrate":
        return asyncio.run(cli.migrate(settings))
    if args.command == "seed":
        return asyncio.run(cli.seed(settings, first_close_minutes=args.minutes))
    if args.command == "serve":
        return cli.serve(settings)
    return cli.dev(settings, seed=not args.no_seed)


if __name__ == "__main__":
    sys.exit(main())
