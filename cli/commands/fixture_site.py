"""``fixture-site``: serve the local imitation of lifegate on its own."""

from __future__ import annotations

import argparse


def cmd_fixture_site(args: argparse.Namespace) -> int:
    from fixture_site.__main__ import main as fixture_main

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.articles is not None:
        argv += ["--articles", str(args.articles)]
    if args.faults:
        argv.append("--faults")
    return fixture_main(argv)


def register(subparsers) -> None:
    fixture = subparsers.add_parser("fixture-site", help="serve the local imitation of lifegate")
    fixture.add_argument("--host", default="127.0.0.1")
    fixture.add_argument("--port", type=int, default=0)
    fixture.add_argument("--articles", type=int, help="number of lifegate.it articles")
    fixture.add_argument(
        "--faults", action="store_true", help="also serve the fault pages (slow, truncated, loops)"
    )
    fixture.set_defaults(func=cmd_fixture_site)
