"""``index``: build a store's CDXJ indexes (per crawl, and merged), rebuilding only what changed."""

from __future__ import annotations

import argparse
import sys

from cli.store import open_store


def cmd_index(args: argparse.Namespace) -> int:
    from archive.index import INDEX_KEY
    from archive.indexer import build_indexes
    from archive.storage import StorageError

    storage = open_store(args)
    try:
        report = build_indexes(
            storage, progress=lambda line: print(line, file=sys.stderr, flush=True)
        )
    except (StorageError, OSError, ValueError) as exc:
        print(f"lifegate-archive index: {exc}", file=sys.stderr)
        return 1
    if not report.indexed and not report.unchanged:
        print(f"lifegate-archive index: no committed crawls in {storage.uri}", file=sys.stderr)
        return 1
    print(
        f"{len(report.indexed)} crawls indexed, {len(report.unchanged)} unchanged, "
        f"{len(report.uncommitted)} not committed; {INDEX_KEY}: {report.merged_lines} records"
        + (" (rebuilt)" if report.merged_rebuilt else " (unchanged)")
    )
    return 0


def register(subparsers) -> None:
    index = subparsers.add_parser(
        "index", help="build the CDXJ indexes (per crawl and indexes/all.cdxj) of a store"
    )
    index.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    index.set_defaults(func=cmd_index)
