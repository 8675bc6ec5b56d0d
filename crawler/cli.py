"""``lifegate-archive``: the command line. Each subcommand lives in ``crawler/commands/<name>.py``.

``main(argv)`` returns the exit status, so tests can call it without a subprocess (except for the
commands that run a Twisted reactor, which can start only once per process).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Command modules, in the order ``--help`` lists them.
COMMANDS = ["crawl", "coverage", "fixture_site", "verify", "extract", "reextract", "export", "download", "publish", "index", "replay", "wacz"]
# Commands that run crawls log through Scrapy's own root handler.
SCRAPY_LOGGING = {"crawl", "demo"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lifegate-archive",
        description="Archive lifegate.it into WARC files and clean text.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"crawler.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in SCRAPY_LOGGING:
        logging.basicConfig(
            level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
