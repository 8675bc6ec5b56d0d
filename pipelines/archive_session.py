"""The crawl's archive as a Scrapy extension: the ``ARCHIVE_*`` and ``WARC_*`` settings read into a
Scrapy-free :class:`archive.session.CrawlSession`, driven by the spider's signals.

Other components find it with ``crawler.get_extension(ArchiveSession)`` and call the session
through it; the work itself (lock, recovery, writer thread, commit) is in ``archive.session``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task, threads

from archive.crawl_files import WarcOptions
from archive.ledger import Ledger, RecrawlPolicy
from archive.payload_index import PayloadIndex
from archive.publisher import Publisher, RetryPolicy
from archive.session import CrawlSession, SessionOptions
from archive.storage import Storage, capabilities, open_storage
from pipelines.run_report import build_run_report

logger = logging.getLogger(__name__)


def _json_setting(settings, name: str) -> Any:
    value = settings.get(name)
    return json.loads(value) if isinstance(value, str) else value


def session_options(settings) -> SessionOptions:
    """The crawl session's options from Scrapy settings."""
    return SessionOptions(
        warc=WarcOptions(
            enabled=settings.getbool("WARC_ENABLED"),
            prefix=settings.get("WARC_PREFIX"),
            max_size=settings.getint("WARC_MAX_SIZE"),
            gzip_level=settings.getint("WARC_GZIP_LEVEL"),
            fsync=settings.getbool("WARC_FSYNC"),
        ),
        recover_on_start=settings.getbool("ARCHIVE_RECOVER_ON_START"),
        state_dir=settings.get("ARCHIVE_STATE_DIR") or None,
        recrawl_policy=RecrawlPolicy.from_pairs(
            _json_setting(settings, "ARCHIVE_RECRAWL_INTERVALS")
        ),
        lock_stale_after=timedelta(seconds=settings.getfloat("ARCHIVE_LOCK_STALE_AFTER")),
        dedup_payloads=settings.getbool("ARCHIVE_REVISIT_IDENTICAL_PAYLOADS"),
        index_at_commit=settings.getbool("ARCHIVE_INDEX_AT_COMMIT"),
        publish_policy=RetryPolicy(
            attempts=settings.getint("ARCHIVE_PUBLISH_RETRIES"),
            backoff=settings.getfloat("ARCHIVE_PUBLISH_BACKOFF"),
        ),
        publish_timeout=settings.getfloat("ARCHIVE_PUBLISH_TIMEOUT"),
        warcinfo_settings={
            "operator": settings.get("ARCHIVE_OPERATOR") or "",
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        },
        log_file=settings.getbool("ARCHIVE_LOG_FILE"),
        log_level=settings.get("LOG_LEVEL"),
        # Set for the workers of a distributed run (crawler.distributed.DistributedRun).
        run_id=settings.get("ARCHIVE_RUN_ID") or None,
        worker_id=settings.get("ARCHIVE_WORKER_ID") or None,
    )


class ArchiveSession:
    """The crawl session of a Scrapy crawl: opened with the spider, committed when it closes."""

    def __init__(self, crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        self.crawler = crawler
        self.stats = crawler.stats
        self.store_uri = settings.get("ARCHIVE_STORE")
        # Opened here so that a wrong URI stops the crawl before it starts, with one clear error.
        self.storage: Storage = open_storage(self.store_uri, settings=settings)
        options = session_options(settings)
        # Uploads run on their own thread so a slow or unreachable store never stalls the crawl;
        # a local store publishes in place, so only remote ones pay for re-checking each file.
        self.publisher = Publisher(
            self.storage,
            policy=options.publish_policy,
            verify=capabilities(self.storage).needs_read_back_verification,
        )
        self.session = CrawlSession(
            self.storage,
            options,
            report=build_run_report,
            stats=crawler.stats,
            publisher=self.publisher,
        )
        self._heartbeat: task.LoopingCall | None = None
        self._closing: asyncio.Future | None = None
        # What the other components call goes straight to the session.
        self.policy = self.session.policy
        self.write_exchange = self.session.write_exchange
        self.write_revisit = self.session.write_revisit
        self.write_text = self.session.write_text
        self.write_metadata = self.session.write_metadata
        self.warc_store_key = self.session.warc_store_key
        self.seen = self.session.seen
        self.journal = self.session.journal
        self.log_event = self.session.log_event
        self.hurry = self.session.hurry

    @classmethod
    def from_crawler(cls, crawler) -> ArchiveSession:
        session = cls(crawler)
        crawler.signals.connect(session.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(session.spider_closed, signal=signals.spider_closed)
        return session

    # --- lifecycle ---------------------------------------------------------------------------

    def spider_opened(self, spider) -> None:
        self.open(spider.name)

    def open(self, spider_name: str) -> None:
        if self.session.crawl_id is not None:
            return
        try:
            self.session.open(spider_name)
        except Exception:
            # Crawling on without an archive would fetch pages only to lose them.
            logger.critical(
                "Cannot open the archive in %s; stopping the crawl", self.store_uri, exc_info=True
            )
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason="archive-failed")
            )
            raise
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(self.session.heartbeat_interval, now=False).addErrback(
            lambda failure: logger.error("The store lock's heartbeat stopped: %s", failure.value)
        )

    def _beat(self):
        # The lock lives in the store (an S3 round trip or two per beat): the beat runs off the
        # reactor thread, and LoopingCall waits for it before it schedules the next one.
        return threads.deferToThread(self.session.heartbeat).addCallbacks(
            lambda _: self.stats.inc_value("archive/lock_heartbeats"), self._beat_failed
        )

    def _beat_failed(self, failure) -> None:
        # A store hiccup must not end the beats: the next one tries again.
        self.stats.inc_value("archive/lock_heartbeat_failures")
        logger.warning(
            "The store lock's heartbeat failed (%s); next try in %.0fs",
            failure.value,
            self.session.heartbeat_interval,
        )

    def spider_closed(self, spider, reason: str) -> None:
        # The crawl is over: nothing else runs in the reactor, so committing inline is harmless.
        try:
            self.session.close(reason)
        finally:
            if self._heartbeat is not None and self._heartbeat.running:
                self._heartbeat.stop()

    # --- what the other components use ---------------------------------------------------------

    @property
    def crawl_id(self) -> str | None:
        return self.session.crawl_id

    @property
    def ledger(self) -> Ledger | None:
        return self.session.ledger

    @property
    def payloads(self) -> PayloadIndex | None:
        return self.session.payloads

    @property
    def lock_release_allowed(self) -> Callable[[], bool]:
        return self.session.lock_release_allowed

    @lock_release_allowed.setter
    def lock_release_allowed(self, allowed: Callable[[], bool]) -> None:
        self.session.lock_release_allowed = allowed
