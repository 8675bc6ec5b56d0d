"""What a crawl shows on the console: progress lines (pages, articles, bytes archived and rates,
``ARCHIVE_PROGRESS_INTERVAL`` seconds apart) and errors; the full log goes to the crawl's
``crawl.log`` (``pipelines.archive_session``), or to the console too with ``--verbose``."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


# Loggers of this project: their warnings are for the user; Scrapy's go to crawl.log only.
OWN_LOGGERS = ("crawler.", "pipelines.", "archive.")


class _QuietConsole(logging.Filter):
    """Progress lines, warnings of this project, and errors from anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or record.name == __name__:
            return True
        return record.levelno >= logging.WARNING and record.name.startswith(OWN_LOGGERS)


def console_logging(level: str, *, verbose: bool = False) -> None:
    """Route the crawl's log: the root logger at ``level``; the console quiet unless ``verbose``."""
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level.upper())
    console.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    if not verbose:
        console.setFormatter(logging.Formatter("%(message)s"))
        console.addFilter(_QuietConsole())
    root = logging.getLogger()
    root.setLevel(level.upper())
    root.addHandler(console)
    # The lines logged before the crawl has a folder (Scrapy's start-up, settings, components)
    # wait here; the archive session hands them to crawl.log when it opens it.
    waiting = logging.handlers.MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
    waiting.setLevel(level.upper())
    root.addHandler(waiting)


class ProgressReporter:
    """Logs one line of progress at a fixed interval, and a summary when the spider closes."""

    def __init__(self, stats, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self._task: task.LoopingCall | None = None
        self._started = time.monotonic()
        self._last = (self._started, 0)

    @classmethod
    def from_crawler(cls, crawler) -> ProgressReporter:
        interval = crawler.settings.getfloat("ARCHIVE_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured("ARCHIVE_PROGRESS_INTERVAL is 0")
        reporter = cls(crawler.stats, interval)
        crawler.signals.connect(reporter.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(reporter.spider_closed, signal=signals.spider_closed)
        return reporter

    def spider_opened(self, spider) -> None:
        self._started = time.monotonic()
        self._last = (self._started, 0)
        self._task = task.LoopingCall(self.report)
        self._task.start(self.interval, now=False)

    def line(self) -> str:
        get = self.stats.get_value
        pages = get("response_received_count", 0)
        now = time.monotonic()
        last_time, last_pages = self._last
        rate = (pages - last_pages) / max(now - last_time, 1e-9)
        self._last = (now, pages)
        events = sum(
            v for k, v in self.stats.get_stats().items() if k.startswith("archive/events/")
        )
        return (
            f"pages {pages} ({rate:.1f}/s), articles {get('extract/records', 0)}, "
            f"WARC records {get('warc/records', 0)}, payload {get('warc/payload_bytes', 0) / 1e6:.1f} MB, "
            f"problems logged {events}, elapsed {now - self._started:.0f}s"
        )

    def report(self) -> None:
        logger.info("Progress: %s", self.line())

    def spider_closed(self, spider, reason: str) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
