"""``crawl``: crawl a site into the store (the main job)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from cli.crawl_summary import report_failures, summary
from cli.settings import project_settings, validate_settings
from cli.store import crawl_store_problem


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
            ARCHIVE_SHARED_HOST_DELAY=0,  # a distributed run's gap between requests to one host
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
    if problem := crawl_store_problem(settings):
        status, message = problem
        print(f"lifegate-archive crawl: {message}", file=sys.stderr)
        return status
    from crawler.progress import console_logging
    from crawler.runner import run_crawls

    console_logging(settings.get("LOG_LEVEL"), verbose=args.verbose)
    results = run_crawls([_spider_args(args)], settings)
    for stats in results:
        print(summary(stats))
    print(f"store: {settings.get('ARCHIVE_STORE')}")
    return report_failures("crawl", results)


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
