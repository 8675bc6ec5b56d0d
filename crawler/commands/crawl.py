"""``crawl`` (the main job) and ``demo`` (the same, offline, against the fixture site)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from crawler.commands import configured_storage, project_settings

# Finish reasons of a crawl that did its job (Scrapy's own, plus the --limit one).
# A run stopped by SIGTERM/SIGINT closed its files and committed its manifest: that is a success.
SUCCESS_REASONS = {"finished", "closespider_itemcount", "closespider_pagecount", "shutdown"}


# Scrapy logs every overridden setting when a crawl starts: secrets must come from the environment.
SECRET_SETTINGS = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def _parse_setting_overrides(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"lifegate-archive: -s expects NAME=VALUE, got {pair!r}")
        if name in SECRET_SETTINGS:
            raise SystemExit(
                f"lifegate-archive: set {name} in the environment, not with -s (settings are logged)"
            )
        out[name] = value
    return out


def _crawl_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.store:
        overrides["ARCHIVE_STORE"] = args.store
    if args.limit:
        overrides["CLOSESPIDER_ITEMCOUNT"] = args.limit
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
    overrides["LOG_LEVEL"] = args.log_level.upper()
    overrides.update(_parse_setting_overrides(args.set))
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

    SIGINT/SIGTERM stop the running crawl gracefully (files closed, manifest written) and skip the
    rest; a second signal stops at once.
    """
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.defer import deferred_from_coro

    process = AsyncCrawlerProcess(settings, install_root_handler=True)
    results: list[dict[str, Any]] = []

    async def run_all() -> None:
        from twisted.internet import reactor

        try:
            for spider, spider_args in jobs:
                crawler = process.create_crawler(spider)
                try:
                    await process.crawl(crawler, **spider_args)
                finally:
                    results.append(dict(crawler.stats.get_stats()))
                if results[-1].get("finish_reason") == "shutdown":
                    break
        finally:
            if reactor.running:
                reactor.stop()

    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: deferred_from_coro(run_all()))
    process.start(stop_after_crawl=False, install_signal_handlers=True)
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


def _crawl_ok(stats: dict[str, Any]) -> bool:
    return stats.get("finish_reason") in SUCCESS_REASONS and stats.get("archive/crawl_id") is not None


def _check_store(settings) -> tuple[int, str] | None:
    """Exit status and one line saying why the configured store cannot be used now, or None."""
    from archive.lock import StoreLock
    from archive.storage import StorageError

    try:
        storage = configured_storage(settings)
    except StorageError as exc:
        return 2, str(exc)
    lock = StoreLock(storage, "check", stale_after=timedelta(seconds=settings.getfloat("ARCHIVE_LOCK_STALE_AFTER")))
    holder = lock.current()
    joining = settings.get("ARCHIVE_REDIS_URL") and holder is not None and holder.run_id == settings.get("ARCHIVE_RUN_ID")
    if holder is not None and not joining and not lock.stale(holder):
        return 3, f"the store {storage.uri} is in use by {holder.describe()}"
    return None


def cmd_crawl(args: argparse.Namespace) -> int:
    settings = project_settings(_crawl_overrides(args))
    if problem := _check_store(settings):
        status, message = problem
        print(f"lifegate-archive crawl: {message}", file=sys.stderr)
        return status
    results = run_crawls([_spider_args(args)], settings)
    for stats in results:
        print(_summary(stats))
    print(f"store: {settings.get('ARCHIVE_STORE')}")
    return 0 if results and all(_crawl_ok(s) for s in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from fixture_site import FixtureSite

    store = args.store or "demo-store"
    site = FixtureSite(include_faults=False)
    with site.serve(host="127.0.0.1") as running:
        urls = running.base_urls
        print(f"Fixture site: lifegate.it {urls['it']}, lifegate.com {urls['en']}, republisher {urls['republisher']}")
        settings = project_settings(
            {
                "ARCHIVE_STORE": store,
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
                "LOG_LEVEL": args.log_level.upper(),
            }
        )
        jobs = [
            ("lifegate", {"site": "it", "base_url": urls["it"]}),
            ("lifegate", {"site": "com", "base_url": urls["en"]}),
            (
                "republications",
                {"base_url": urls["republisher"], "lifegate_base_urls": f"{urls['it']},{urls['en']}"},
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
    return 0 if results and all(_crawl_ok(s) for s in results) else 1


def register(subparsers) -> None:
    crawl = subparsers.add_parser("crawl", help="crawl a site into the store (the main job)")
    crawl.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE, ./archive-store)")
    crawl.add_argument("--spider", default="lifegate", choices=["lifegate", "republications"])
    crawl.add_argument("--site", default="it", choices=["it", "com"], help="which lifegate site")
    crawl.add_argument("--base-url", help="crawl this base URL instead (a mirror, the fixture site)")
    crawl.add_argument(
        "--lifegate-base-url",
        action="append",
        default=[],
        help="republications: extra base URL whose links count as a lifegate credit (repeatable)",
    )
    crawl.add_argument("--limit", type=int, help="stop after N articles")
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
    crawl.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="any setting")
    crawl.set_defaults(func=cmd_crawl)

    demo = subparsers.add_parser("demo", help="serve the fixture site and crawl it, offline")
    demo.add_argument("--store", help="store path or URI (default ./demo-store)")
    demo.set_defaults(func=cmd_demo)

