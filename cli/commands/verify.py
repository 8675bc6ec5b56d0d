"""``verify``: check every crawl, object and WARC record in a store."""

from __future__ import annotations

import argparse
import sys

from cli.store import open_store


def cmd_verify(args: argparse.Namespace) -> int:
    from archive.verify import verify_store

    storage = open_store(args)
    report = verify_store(storage, progress=lambda c: print(f"checking {c}", file=sys.stderr))
    if report.crawls == 0 and report.ok:
        print(f"lifegate-archive verify: no crawls in {storage.uri}", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(problem)
    print(
        f"{report.crawls} crawls, {report.objects} objects ({report.bytes / 1e6:.1f} MB), "
        f"{report.warc_files} WARC files, {report.records} records: "
        + ("OK" if report.ok else f"{len(report.problems)} problems"),
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def register(subparsers) -> None:
    verify = subparsers.add_parser(
        "verify", help="check every crawl, object and WARC record in a store"
    )
    verify.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    verify.set_defaults(func=cmd_verify)
