"""``reextract``: rebuild the clean text of the whole archive from its WARC files, no recrawl.

The engine is ``pipelines.reextract``; this command opens the store, runs it on local processes or
a Dask cluster, and reports. Output: ``reextract/<config-hash>/<crawl-id>.jsonl``, which ``export``
then uses.
"""

from __future__ import annotations

import argparse
import sys

from cli.store import open_store, store_settings


def cmd_reextract(args: argparse.Namespace) -> int:
    from concurrent.futures.process import BrokenProcessPool

    from archive.crawl import committed_crawls
    from archive.storage import StorageError, storage_table
    from pipelines.extractor_config import ExtractorConfig, extraction_workers
    from pipelines.reextract import (
        ClusterUnavailable,
        cluster_executor,
        reextract_store,
    )

    settings = args.settings
    storage = open_store(args)
    try:
        if not committed_crawls(storage):
            print(
                f"lifegate-archive reextract: no committed crawls in {storage.uri}", file=sys.stderr
            )
            return 1
        config = ExtractorConfig.from_settings(settings)
        workers = args.workers or extraction_workers(settings)
        with cluster_executor(
            args.dask_scheduler, settings.getfloat("ARCHIVE_DASK_CONNECT_TIMEOUT")
        ) as executor:
            report = reextract_store(
                storage,
                config,
                workers=workers,
                storages=storage_table(settings),
                force=args.force,
                store_config=store_settings(settings),
                progress=lambda m: print(m, file=sys.stderr, flush=True),
                interval=settings.getfloat("ARCHIVE_PROGRESS_INTERVAL") or float("inf"),
                executor=executor,
                skip_damaged=args.skip_damaged,
                max_decoded=settings.getint("ARCHIVE_REPLAY_MAX_DECODED_BYTES"),
            )
    except ClusterUnavailable as exc:
        print(f"lifegate-archive reextract: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"lifegate-archive reextract: {exc}", file=sys.stderr)
        return 1
    except BrokenProcessPool:
        # A worker died (out of memory, a crash in libxml2); finished crawls are kept.
        print(
            "lifegate-archive reextract: an extraction worker died; run it again to resume "
            "(crawls already done are skipped)",
            file=sys.stderr,
        )
        return 1
    for problem in report.problems[:100]:
        print(f"lifegate-archive reextract: skipped {problem}", file=sys.stderr)
    if len(report.problems) > 100:
        print(f"lifegate-archive reextract: and {len(report.problems) - 100} more skipped",
              file=sys.stderr)  # fmt: skip
    rate = report.pages / report.seconds if report.seconds else 0.0
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items())) or "none"
    if report.problems:
        skipped += f" ({len(report.problems)} unreadable inputs listed above)"
    print(
        f"re-extracted {report.records} of {report.pages} pages from {len(report.crawls)} crawls "
        f"with {workers} workers in {report.seconds:.1f} s ({rate:.1f} pages/s); no record: {skipped}; "
        f"written to reextract/{report.config_hash}/"
    )
    return 0


def register(subparsers) -> None:
    reextract = subparsers.add_parser(
        "reextract", help="rebuild the clean text of the whole archive from its WARC files"
    )
    reextract.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    reextract.add_argument(
        "--workers",
        type=int,
        default=0,
        help="extraction processes (default: EXTRACT_WORKERS, else one per core)",
    )
    reextract.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster (tcp://host:8786) instead of local processes",
    )
    reextract.add_argument(
        "--force",
        action="store_true",
        help="redo crawls already re-extracted with this configuration",
    )
    reextract.add_argument(
        "--skip-damaged",
        action="store_true",
        help="go on without a crawl's missing or unreadable text or WARC file, "
        "and list it, instead of failing",
    )
    reextract.set_defaults(func=cmd_reextract)
