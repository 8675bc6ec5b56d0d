"""``publish``: upload what the spool still holds (a crawl that could not reach its store), then
commit each such crawl by publishing its manifest last. Driven by ``ARCHIVE_PUBLISH_*``."""

from __future__ import annotations

import argparse
import sys

from cli.store import configured_storage


def cmd_publish(args: argparse.Namespace) -> int:
    from archive.publisher import RetryPolicy, publish_spool
    from archive.storage import StorageError, StoreUnavailable, capabilities

    settings = args.settings
    try:
        storage = configured_storage(settings, args.store)
        waiting = sum(1 for _ in storage.pending())
    except StorageError as exc:
        print(f"lifegate-archive publish: {exc}", file=sys.stderr)
        return 2
    spool = capabilities(storage).spool
    if not waiting:
        where = f" in {spool}" if spool else f": {storage.uri} is published in place"
        print(f"lifegate-archive publish: nothing to publish{where}", file=sys.stderr)
        return 0
    try:
        capabilities(storage).check()
        report = publish_spool(
            storage,
            policy=RetryPolicy(
                attempts=max(settings.getint("ARCHIVE_PUBLISH_RETRIES"), 1),
                backoff=settings.getfloat("ARCHIVE_PUBLISH_BACKOFF"),
            ),
            progress=lambda line: print(line, file=sys.stderr),
        )
    except StorageError as exc:
        print(f"lifegate-archive publish: {exc} ({waiting} files kept in {spool})", file=sys.stderr)
        # Unreachable for now: try again later (1); missing, or refusing us: unusable (2).
        return 1 if isinstance(exc, StoreUnavailable) else 2
    for path in report.unfinished:
        print(
            f"{path}: still being written, or left by a killed crawl (the next crawl recovers it)"
        )
    for key, reason in report.failed:
        print(f"{key}: NOT published: {reason}")
    for key, reason in report.held:
        print(f"{key}: crawl not committed: {reason}")
    print(
        f"{len(report.published)} published, {len(report.failed)} failed, "
        f"{len(report.held)} crawls held back, {len(report.unfinished)} files still open: "
        + ("OK" if report.ok else f"the rest stays in {spool}"),
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def register(subparsers) -> None:
    publish = subparsers.add_parser(
        "publish", help="upload what the spool still holds to the store, manifests last"
    )
    publish.add_argument("--store", help="store URI (default: ARCHIVE_STORE)")
    publish.set_defaults(func=cmd_publish)
