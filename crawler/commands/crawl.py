"""``crawl`` (the main job) and ``demo`` (the same, offline, against the fixture site)."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from crawler.commands import configured_storage, project_settings, validate_settings


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expects a whole number of articles, 1 or more, got {text!r}"
        )
    return value


def _crawl_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.store:
        overrides["ARCHIVE_STORE"] = args.store
    if args.limit:
        overrides["ARCHIVE_ARTICLE_LIMIT"] = args.limit
    if args.no_throttle:
        overrides.update(
            AUTOTHROTTLE_ENABLED=False,
            DOWNLOAD_DELAY=0,
            CONCURRENT_REQUESTS_PER_DOMAIN=8,
        )
    if args.redis_url:
        from crawler.distributed import distributed_settings

        worker = args.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        overrides.update(distributed_settings(args.redis_url, args.run_id, worker))
    overrides.update(args.overrides)  # -s NAME=VALUE wins
    return overrides


def _spider_args(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    spider_args: dict[str, str] = {}
    if args.base_url:
        spider_args["base_url"] = args.base_url
    if args.spider == "lifegate":
        spider_args["site"] = args.site
    elif args.lifegate_base_url:
        spider_args["lifegate_base_urls"] = ",".join(args.lifegate_base_url)
    return args.spider, spider_args


def run_crawls(jobs: list[tuple[str, dict[str, str]]], settings) -> list[dict[str, Any]]:
    """Run spiders one after another in one reactor; returns each crawl's final stats.

    SIGINT/SIGTERM stop the running crawl within seconds (waits given up, downloads cut off, files
    closed, what is complete committed) and skip the rest; a second signal exits at once, leaving
    ``.open`` files that the next crawl recovers.
    """
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.ossignal import install_shutdown_handlers

    from crawler.watchdog import Watchdog

    # The console and crawl.log handlers are ours (crawler.progress, the archive session).
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    results: list[dict[str, Any]] = []
    signals_seen: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        signals_seen.append(signum)
        if len(signals_seen) > 1:
            print(
                "lifegate-archive: second signal, exiting now; the next crawl recovers the unfinished files",
                file=sys.stderr,
                flush=True,
            )
            os._exit(128 + signum)
        print(
            "lifegate-archive: stopping, committing what is complete (again to exit at once)",
            file=sys.stderr,
            flush=True,
        )
        for crawler in process.crawlers:
            if (watchdog := crawler.get_extension(Watchdog)) is not None:
                watchdog.interrupt()
        reactor.callFromThread(process._graceful_stop_reactor)

    async def run_all() -> None:
        try:
            for spider, spider_args in jobs:
                crawler = process.create_crawler(spider)
                try:
                    await process.crawl(crawler, **spider_args)
                finally:
                    results.append(dict(crawler.stats.get_stats()))
                if signals_seen or results[-1].get("finish_reason") == "shutdown":
                    break
        finally:
            # A signal's graceful stop may have stopped the reactor already.
            with contextlib.suppress(RuntimeError):
                # Twisted types the reactor by its zope interfaces, whose methods mypy reads as
                # lacking self without the mypy-zope plugin.
                reactor.stop()  # type: ignore[misc]

    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: deferred_from_coro(run_all()))
    # A zope interface method, as above (mypy takes "after" for self).
    reactor.addSystemEventTrigger("after", "startup", install_shutdown_handlers, on_signal)  # type: ignore[arg-type]
    process.start(stop_after_crawl=False, install_signal_handlers=False)
    return results


def _summary(stats: dict[str, Any]) -> str:
    if "report" in stats:
        return (
            f"crawl {stats.get('archive/crawl_id', '?')}: {stats['report']}; "
            f"{stats.get('warc/files', 0)} WARC files, {stats.get('warc/records', 0)} records"
        )
    return (
        f"crawl {stats.get('archive/crawl_id', '?')}: {stats.get('finish_reason', 'not finished')}; "
        f"{stats.get('response_received_count', 0)} responses, "
        f"{stats.get('extract/records', 0)} articles with clean text, "
        f"{stats.get('warc/files', 0)} WARC files, {stats.get('warc/records', 0)} records, "
        f"{sum(v for k, v in stats.items() if k.startswith('archive/events/'))} problems logged"
    )


def _report_failures(command: str, results: list[dict[str, Any]]) -> int:
    """Print one line per failed crawl on stderr; the exit status (1 when any failed)."""
    from pipelines.run_report import crawl_failure

    failures = [cause for stats in results if (cause := crawl_failure(stats))]
    for cause in failures:
        print(f"lifegate-archive {command}: {cause}", file=sys.stderr)
    return 1 if failures or not results else 0


def _check_store(settings) -> tuple[int, str] | None:
    """Exit status and one line saying why the configured store cannot be used now, or None."""
    from archive.lock import StoreLock
    from archive.storage import StorageError, StoreUnavailable, capabilities

    try:
        storage = configured_storage(settings)
        capabilities(storage).check(write=True)
    except StorageError as exc:
        if not isinstance(exc, StoreUnavailable):
            return 2, str(exc)
        # Unreachable for now (not missing): the crawl spools, `publish` uploads later.
        print(f"lifegate-archive crawl: warning: {exc}; files wait in the spool", file=sys.stderr)
        return None
    lock = StoreLock(
        storage,
        "check",
        stale_after=timedelta(seconds=settings.getfloat("ARCHIVE_LOCK_STALE_AFTER")),
    )
    holder = lock.current()
    joining = (
        settings.get("ARCHIVE_REDIS_URL")
        and holder is not None
        and holder.run_id == settings.get("ARCHIVE_RUN_ID")
    )
    if holder is not None and not joining and not lock.stale(holder):
        return 3, f"the store {storage.uri} is in use by {holder.describe()}"
    return None


def _check_base_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"--base-url expects http(s)://host[:port], got {url!r}"
    return None


def cmd_crawl(args: argparse.Namespace) -> int:
    settings = project_settings(_crawl_overrides(args))
    validate_settings(settings)
    if message := _check_base_url(args.base_url):
        print(f"lifegate-archive crawl: {message}", file=sys.stderr)
        return 2
    if problem := _check_store(settings):
        status, message = problem
        print(f"lifegate-archive crawl: {message}", file=sys.stderr)
        return status
    from crawler.progress import console_logging

    console_logging(settings.get("LOG_LEVEL"), verbose=args.verbose)
    results = run_crawls([_spider_args(args)], settings)
    for stats in results:
        print(_summary(stats))
    print(f"store: {settings.get('ARCHIVE_STORE')}")
    return _report_failures("crawl", results)


def cmd_demo(args: argparse.Namespace) -> int:
    from fixture_site import FixtureSite

    store = args.store or "demo-store"
    site = FixtureSite(include_faults=False)
    with site.serve(host="127.0.0.1") as running:
        urls = running.base_urls
        print(
            f"Fixture site: lifegate.it {urls['it']}, lifegate.com {urls['en']}, republisher {urls['republisher']}"
        )
        settings = project_settings(
            {
                "ARCHIVE_STORE": store,
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
                **args.overrides,
            }
        )
        validate_settings(settings)
        from crawler.progress import console_logging

        console_logging(settings.get("LOG_LEVEL"), verbose=args.verbose)
        jobs = [
            ("lifegate", {"site": "it", "base_url": urls["it"]}),
            ("lifegate", {"site": "com", "base_url": urls["en"]}),
            (
                "republications",
                {
                    "base_url": urls["republisher"],
                    "lifegate_base_urls": f"{urls['it']},{urls['en']}",
                },
            ),
        ]
        results = run_crawls(jobs, settings)
    storage = configured_storage(settings, store)
    print()
    for stats in results:
        print(_summary(stats))
        crawl_id = stats.get("archive/crawl_id")
        if crawl_id:
            print(f"  text:  {storage.uri}/crawls/{crawl_id}/text/articles.jsonl")
            print(f"  WARCs: {storage.uri}/crawls/{crawl_id}/warc/")
    print(
        "\nNext:\n"
        f"  lifegate-archive verify --store {store}\n"
        f"  warcio check {store}/crawls/*/warc/*.warc.gz\n"
        f"  head -c 600 {store}/crawls/*/text/articles.jsonl\n"
        f"  lifegate-archive replay --store {store}\n"
        f"  lifegate-archive export --store {store}\n"
        f"  lifegate-archive fixture-site   # then: lifegate-archive crawl --base-url URL --no-throttle"
    )
    return _report_failures("demo", results)


def register(subparsers) -> None:
    crawl = subparsers.add_parser("crawl", help="crawl a site into the store (the main job)")
    crawl.add_argument(
        "--store", help="store path or URI (default: ARCHIVE_STORE, ./archive-store)"
    )
    crawl.add_argument("--spider", default="lifegate", choices=["lifegate", "republications"])
    crawl.add_argument("--site", default="it", choices=["it", "com"], help="which lifegate site")
    crawl.add_argument(
        "--base-url", help="crawl this base URL instead (a mirror, the fixture site)"
    )
    crawl.add_argument(
        "--lifegate-base-url",
        action="append",
        default=[],
        help="republications: extra base URL whose links count as a lifegate credit (repeatable)",
    )
    crawl.add_argument(
        "--limit", type=_positive_int, metavar="N", help="stop after N article text records"
    )
    crawl.add_argument(
        "--no-throttle",
        action="store_true",
        help="no politeness delays: only for a local mirror or the fixture site",
    )
    crawl.add_argument(
        "--redis-url",
        help="join a distributed run: workers with the same Redis and --run-id share one frontier",
    )
    crawl.add_argument("--run-id", default="main", help="distributed run name (default: main)")
    crawl.add_argument("--worker-id", help="this worker's name (default: host-pid)")
    crawl.add_argument(
        "--verbose", action="store_true", help="the whole log on the console (always in crawl.log)"
    )
    crawl.set_defaults(func=cmd_crawl)

    demo = subparsers.add_parser("demo", help="serve the fixture site and crawl it, offline")
    demo.add_argument("--store", help="store path or URI (default ./demo-store)")
    demo.add_argument(
        "--verbose", action="store_true", help="the whole log on the console (always in crawl.log)"
    )
    demo.set_defaults(func=cmd_demo)
