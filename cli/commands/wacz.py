"""``wacz``: export one crawl, several, or the whole store as a WACZ 1.1.1 file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.store import open_store


def cmd_wacz(args: argparse.Namespace) -> int:
    from archive.storage import StorageError
    from archive.wacz import write_wacz

    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"lifegate-archive wacz: no such folder: {out.parent}", file=sys.stderr)
        return 2
    storage = open_store(args)
    try:
        report = write_wacz(
            storage,
            out,
            args.crawl or None,
            title=args.title,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except (StorageError, OSError, ValueError) as exc:
        print(f"lifegate-archive wacz: {exc}", file=sys.stderr)
        return 1
    print(
        f"{report.path}: {len(report.crawls)} crawls, {report.warc_files} WARC files, "
        f"{report.records} index records, {report.pages} pages, {report.bytes / 1e6:.1f} MB"
    )
    return 0


def register(subparsers) -> None:
    wacz = subparsers.add_parser("wacz", help="export crawls (default: all) as a WACZ file")
    wacz.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    wacz.add_argument("--crawl", action="append", metavar="ID", help="a crawl id (repeatable)")
    wacz.add_argument("--out", required=True, metavar="FILE.wacz", help="where to write it")
    wacz.add_argument("--title", help="title in datapackage.json")
    wacz.set_defaults(func=cmd_wacz)
