"""``download``: fetch a dataset release and check every file against its manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.store import open_store


def cmd_download(args: argparse.Namespace) -> int:
    from archive.dataset import DatasetError
    from archive.release import download_release
    from archive.storage import StorageError

    storage = open_store(args)
    try:
        report = download_release(
            storage,
            args.release,
            Path(args.to),
            progress=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except (DatasetError, StorageError) as exc:
        print(f"lifegate-archive download: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"lifegate-archive download: cannot write {args.to}: {exc}", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(f"lifegate-archive download: {problem}", file=sys.stderr)
    status = "OK" if report.ok else f"{len(report.problems)} files failed their checksum or read"
    print(
        f"{report.name}: {report.files} files fetched ({report.bytes / 1e6:.1f} MB), "
        f"{report.reused} already present, into {report.path}: {status}"
    )
    return 0 if report.ok else 1


def register(subparsers) -> None:
    download = subparsers.add_parser("download", help="fetch a dataset release and verify it")
    download.add_argument("release", help="release name, e.g. v2026.11.28")
    download.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    download.add_argument("--to", default=".", help="folder to put <release>/ in (default: here)")
    download.set_defaults(func=cmd_download)
