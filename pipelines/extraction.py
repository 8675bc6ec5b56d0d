"""Clean text for every archived article (``EXTRACT_*`` settings).

trafilatura is CPU-bound, so each page goes to a process pool sized to the cores; the reactor
thread only awaits the result and hands the record to the archive session's writer thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem, NotConfigured

from pipelines.archive_session import ArchiveSession
from pipelines.extractor_config import ExtractorConfig, extraction_workers

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def _start_worker(niceness: int, crawler_pid: int) -> None:
    """Runs in each worker as it starts: stop signals are left to the crawler.

    A worker holds both ends of the pool's queue pipes, so it never sees end-of-file when the
    crawler is killed (SIGKILL, the OOM killer): without a watch it would wait forever, ~160 MB each,
    two more per killed run. The crawl's pace is set by the reactor thread, so when the cores are
    contended the workers yield to it (``EXTRACT_WORKER_NICENESS``).
    """
    if niceness > 0 and hasattr(os, "nice"):
        os.nice(niceness)
    # Ctrl-C in a terminal and a service manager's stop signal reach the whole process group. The
    # crawler answers them by finishing what is in flight, its pages' extraction included; a
    # worker that died of the signal would lose those pages' text (and print a traceback). They
    # arrive blocked (_stop_signals_blocked): one sent while this worker was starting is pending,
    # and ignoring it discards it.
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    threading.Thread(
        target=_exit_with_crawler, args=(crawler_pid,), name="crawler-watch", daemon=True
    ).start()


STOP_SIGNALS = frozenset((signal.SIGINT, signal.SIGTERM))


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """The stop signals blocked in this thread while it may spawn pool workers.

    A worker is spawned inside ``submit`` and inherits the spawning thread's signal mask through
    fork and exec. It then spends its first second importing, before its initializer can ignore a
    stop signal: a Ctrl-C in that window killed it with a traceback, broke the pool, and on Python
    3.13 hung the pool's shutdown (its manager thread joining the dead worker). Blocked here, the
    signal stays pending in the worker until the initializer discards it; this process still gets
    it, through any of its threads that does not block it.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# The extractor is imported in the workers, not with this module: Scrapy imports every pipeline
# class, and a crawl without extraction need not load trafilatura (~0.2 s, ~18 MB).
def _prepare_extractor(config: ExtractorConfig) -> None:
    from pipelines.extractor import prepare_extractor

    prepare_extractor(config)


def _extract_page(config: ExtractorConfig, body: bytes, url: str, content_type: str | None):
    from pipelines.extractor import extract_with_config

    return extract_with_config(config, body, url, content_type)


def _exit_with_crawler(crawler_pid: int, interval: float = 1.0) -> None:
    # Orphans are re-parented (to init or a subreaper), so a changed parent means the crawler died.
    while os.getppid() == crawler_pid:
        time.sleep(interval)
    os._exit(1)


class ExtractionPipeline:
    """Turns article items (``url``, ``body`` bytes, ``warc_record``) into text records.

    Items without a body (or that are not articles) pass through untouched. A page that yields no
    article is logged with its reason and counted, never dropped silently.
    """

    def __init__(
        self,
        stats,
        config: ExtractorConfig,
        *,
        workers: int = 1,
        niceness: int = 0,
        article_limit: int = 0,
        session: ArchiveSession | None = None,
    ) -> None:
        self.stats = stats
        self.config = config
        self.workers = workers
        self.niceness = niceness
        self.limit = article_limit
        self._reserved = 0  # text records written or being written, against the limit
        self._closing: asyncio.Future | None = None
        self._pool: ProcessPoolExecutor | None = None
        self.warming: list[Future] = []  # each worker building its extractor at open
        self._session = session
        self.crawler: Crawler | None = None  # set by from_crawler: the session, the engine

    @classmethod
    def from_crawler(cls, crawler) -> ExtractionPipeline:
        settings = crawler.settings
        if not settings.getbool("EXTRACT_ENABLED"):
            raise NotConfigured("EXTRACT_ENABLED is off")
        pipeline = cls(
            crawler.stats,
            ExtractorConfig.from_settings(settings),
            workers=extraction_workers(settings),
            niceness=settings.getint("EXTRACT_WORKER_NICENESS"),
            article_limit=settings.getint("ARCHIVE_ARTICLE_LIMIT"),
        )
        pipeline.crawler = crawler
        return pipeline

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the crawler process has threads (the WARC writer) that fork would copy
        # in whatever state they were in.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.niceness, os.getpid()),
        )

    def open_spider(self) -> None:
        if self.crawler is not None:
            self._session = self.crawler.get_extension(ArchiveSession)
        self._pool = self._new_pool()
        # Workers start on demand and spend their first second importing trafilatura and building
        # the extractor; asked now, they do it while the crawl fetches robots.txt and sitemaps
        # instead of holding up the first pages.
        with _stop_signals_blocked():
            self.warming = [
                self._pool.submit(_prepare_extractor, self.config) for _ in range(self.workers)
            ]

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None

    async def _extract(self, body: bytes, url: str, content_type: str | None):
        assert self._pool is not None
        try:
            with _stop_signals_blocked():
                future = self._pool.submit(_extract_page, self.config, body, url, content_type)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # A worker died (out of memory, a crash in libxml2): replace the pool, report the page.
            logger.error("Extraction worker died on %s; restarting the pool", url)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return None

    async def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if "url" not in adapter or "capture_kind" not in adapter.field_names():
            return item
        kind = adapter.get("capture_kind") or "response"
        body = adapter.get("body")
        # The page bytes live on in the WARC; the item does not need to carry them further.
        adapter["body"] = None
        # A revisit (same body as an archived capture, whatever its URL) has no new text: the text
        # came from that capture, and a revisit record could not give it back to `reextract`.
        if kind == "response" and body is not None:
            record = await self._text_record(adapter, body)
            if record is not None:
                # What the ledger journal needs of the text (see pipelines/ledger_journal.py).
                adapter["text_summary"] = {
                    name: record.get(name)
                    for name in ("text_sha256", "canonical_url", "site", "date_published")
                }
        return item

    async def _text_record(self, adapter: ItemAdapter, body: bytes) -> dict[str, Any] | None:
        url = adapter["url"]
        result = await self._extract(body, url, adapter.get("content_type"))
        if result is None:
            self._skip(url, "extractor-crashed")
            return None
        if result.record is None:
            self._skip(url, result.reason or "no-article")
            return None
        for flag in result.flags:
            self.stats.inc_value(f"extract/flags/{flag}")
        record = result.text_record(
            site=adapter.get("site"),
            translation_of=adapter.get("translation_of"),
            provenance=adapter.get("warc_record"),
            crawl={
                "crawl_id": self._session.crawl_id if self._session else None,
                "discovered_via": adapter.get("discovered_via"),
                "requested_url": adapter.get("requested_url"),
                "sitemap_lastmod": adapter.get("sitemap_lastmod"),
                "fetched": adapter.get("fetched"),
                "status": adapter.get("status"),
            },
        )
        if self.limit and self._reserved >= self.limit:
            # The crawl is closing at its limit: the page stays in the WARC, and the ledger does not
            # learn of it, so the next run archives it again with its text.
            raise DropItem(f"{url}: past ARCHIVE_ARTICLE_LIMIT={self.limit}, text not written")
        self._reserved += 1
        if self._session is not None:
            await self._session.write_text(record)
        self.stats.inc_value("extract/records")
        if self.limit and self.stats.get_value("extract/records", 0) == self.limit:
            logger.info(
                "%d articles written (ARCHIVE_ARTICLE_LIMIT): closing the crawl", self.limit
            )
            if self.crawler is not None:
                self._closing = asyncio.ensure_future(
                    self.crawler.engine.close_spider_async(reason="closespider_itemcount")
                )
        adapter["text_record_id"] = record.get("id")
        return record

    def _skip(self, url: str, reason: str) -> None:
        self.stats.inc_value(f"extract/skipped/{reason}")
        logger.info("No text from %s: %s", url, reason)
        if self._session is not None:
            self._session.log_event("extract-skipped", url, reason)
