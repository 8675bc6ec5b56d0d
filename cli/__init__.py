"""``lifegate-archive``: the command line, the top layer (it imports ``crawler``, ``pipelines`` and
``archive``; nothing imports it). Each subcommand lives in ``cli/commands/<name>.py``; what they
share is ``cli/settings.py`` (settings, ``-s``, their checks) and ``cli/store.py`` (the store).

``main(argv)`` returns the exit status, so tests can call it without a subprocess (except for the
commands that run a Twisted reactor, which can start only once per process). Exit statuses
(docs/operations.md): 0 done, 1 a failed run or problems found, 2 a bad argument or setting or an
unusable store, 3 the store is in use by another run. Errors are one line on stderr; ``--debug``
(or ``-s LOG_LEVEL=DEBUG``) adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import NoReturn

from archive.software import project_title
from cli.settings import add_setting_options

# Command modules, in the order ``--help`` lists them.
COMMANDS = [
    "crawl",
    "demo",
    "coverage",
    "fixture_site",
    "verify",
    "extract",
    "reextract",
    "export",
    "download",
    "publish",
    "index",
    "replay",
    "wacz",
]
# Commands that run crawls: their console shows progress and errors, the full log goes to a file.
CRAWL_COMMANDS = {"crawl", "demo"}
PROG = "lifegate-archive"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line: ``lifegate-archive crawl: argument --limit: …``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (--help for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description="Archive lifegate.it into WARC files and clean text."
    )
    parser.add_argument("--version", action="version", version=project_title())
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"cli.commands.{name}").register(subparsers)
    for command in subparsers.choices.values():
        # One configuration for every command: the same settings, the same overrides.
        add_setting_options(command)
    return parser


def _fail(command: str, message: str, status: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"{PROG} {command}: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    from archive.lock import LockHeld
    from archive.storage import StorageError
    from cli.settings import (
        SettingsError,
        command_settings,
        parse_setting_overrides,
        validate_settings,
    )

    # pywb's pyamf imports pkg_resources: a warning about a dependency, not for our users.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    args = build_parser().parse_args(argv)
    command = args.command
    try:
        args.overrides = parse_setting_overrides(args.set)
        debug = args.debug or str(args.overrides.get("LOG_LEVEL", "")).upper() == "DEBUG"
        args.overrides.setdefault("LOG_LEVEL", args.log_level.upper())
        args.settings = command_settings(args.overrides)
        validate_settings(args.settings)
    except SettingsError as exc:
        return _fail(command, str(exc), 2, False)
    level = args.settings.get("LOG_LEVEL").upper()
    if args.command not in CRAWL_COMMANDS:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not debug:
        # boto3 announces where it found credentials at INFO: not news for a user.
        logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except SettingsError as exc:
        return _fail(command, str(exc), 2, debug)
    except LockHeld as exc:
        return _fail(command, f"the store is in use: {exc}", 3, debug)
    except StorageError as exc:
        return _fail(command, str(exc), 2, debug)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(command, f"{exc.strerror or exc}{where}", 2, debug)
    except KeyboardInterrupt:
        return _fail(command, "interrupted", 130, debug)
    except Exception as exc:  # noqa: BLE001 (a user gets one line; --debug shows the rest)
        return _fail(
            command,
            f"unexpected error: {type(exc).__name__}: {exc} (--debug for details)",
            1,
            debug,
        )
