"""Crawls run one after another in one Twisted reactor, stopped cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import Settings


def run_crawls(jobs: list[tuple[str, dict[str, str]]], settings: Settings) -> list[dict[str, Any]]:
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
