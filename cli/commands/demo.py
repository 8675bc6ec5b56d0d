"""``demo``: serve the fixture site and crawl it into a store, offline (``crawl``, end to end)."""

from __future__ import annotations

import argparse

from cli.crawl_summary import report_failures, summary
from cli.settings import project_settings, validate_settings
from cli.store import configured_storage


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
        from crawler.runner import run_crawls

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
        print(summary(stats))
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
    return report_failures("demo", results)


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="serve the fixture site and crawl it, offline")
    demo.add_argument("--store", help="store path or URI (default ./demo-store)")
    demo.add_argument(
        "--verbose", action="store_true", help="the whole log on the console (always in crawl.log)"
    )
    demo.set_defaults(func=cmd_demo)
