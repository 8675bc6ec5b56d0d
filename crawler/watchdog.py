"""Keeps a crawl from idling or hanging: bounded waits, a no-progress limit and prompt stops.

Components that wait on purpose (a robots.txt retry, a ``Retry-After``) wait through
:meth:`Watchdog.wait`. When those waits are all that is left (nothing scheduled, nothing
downloading), they are given up as soon as none of them can end within ``ARCHIVE_IDLE_WAIT_MAX``
seconds of idling: the waiting requests are skipped with their reason and the run commits. A crawl in which no request finishes for
``ARCHIVE_NO_PROGRESS_TIMEOUT`` seconds is closed as ``no-progress``. On SIGINT/SIGTERM
:meth:`Watchdog.stop` wakes every wait, cancels downloads in flight and hurries the publisher, so a
stop takes seconds whatever the crawl was doing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from scrapy import signals
from twisted.internet import task

from pipelines.archive_session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Sent (no arguments) when the crawl must stop now: downloads in flight are cancelled.
stopping = object()

# Stats whose growth means a request finished one way or another.
PROGRESS_STATS = ("response_received_count", "downloader/exception_count", "item_scraped_count")


class Watchdog:
    """Extension: bounded idle waits, the no-progress limit and the stop switch of one crawl.

    Built directly, its waits and stop switch work on their own; ``from_crawler`` adds the
    periodic check of the running crawl's engine and the ``stopping`` signal.
    """

    def __init__(self, stats, *, idle_wait_max: float, no_progress_timeout: float) -> None:
        self.stats = stats
        self.idle_wait_max = idle_wait_max
        self.no_progress_timeout = no_progress_timeout
        self.crawler: Crawler | None = None  # set by from_crawler
        self.stopped = False
        self._waits: dict[asyncio.Future, float] = {}  # each wait and when it ends (monotonic)
        self._idle_since: float | None = None
        self._progress: tuple[int, float] = (0, time.monotonic())
        self._loop: task.LoopingCall | None = None
        self._closing: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler) -> Watchdog:
        settings = crawler.settings
        watchdog = cls(
            crawler.stats,
            idle_wait_max=settings.getfloat("ARCHIVE_IDLE_WAIT_MAX"),
            no_progress_timeout=settings.getfloat("ARCHIVE_NO_PROGRESS_TIMEOUT"),
        )
        watchdog.crawler = crawler
        crawler.signals.connect(watchdog.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(watchdog.spider_closed, signal=signals.spider_closed)
        return watchdog

    def spider_opened(self, spider) -> None:
        self._progress = (0, time.monotonic())
        self._loop = task.LoopingCall(self.check)
        self._loop.start(1.0, now=False)

    def spider_closed(self, spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._wake_all()

    async def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; False when woken early because the wait was given up or the crawl stops."""
        if self.stopped:
            return False
        woken = asyncio.get_running_loop().create_future()
        self._waits[woken] = time.monotonic() + max(seconds, 0)
        try:
            await asyncio.wait_for(asyncio.shield(woken), timeout=max(seconds, 0))
        except TimeoutError:
            return True
        finally:
            self._waits.pop(woken, None)
        return False

    def stop(self) -> None:
        """The crawl is closing: waits are given up, downloads in flight cancelled."""
        if self.stopped:
            return
        self.stopped = True
        logger.info("Stopping: waits given up, downloads in flight cancelled")
        self._wake_all()
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(stopping)

    def interrupt(self) -> None:
        """SIGINT/SIGTERM: stop, and commit without waiting long for uploads.

        Safe to call from a signal handler: it only sets flags; the rest runs in the reactor.
        """
        from twisted.internet import reactor

        session = self.crawler.get_extension(ArchiveSession) if self.crawler is not None else None
        if session is not None:
            session.hurry()
        reactor.callFromThread(self.stop)

    def _wake_all(self) -> None:
        for woken in list(self._waits):
            if not woken.done():
                woken.set_result(None)
        self._waits.clear()

    # --- the periodic check ----------------------------------------------------------------------

    def check(self) -> None:
        engine = self.crawler.engine if self.crawler is not None else None
        if engine is None or engine.spider is None or engine._slot is None or self.stopped:
            return
        if engine._slot.closing is not None:
            self.stop()  # closing for any reason (a limit, a failed store): no new work, no waits
            return
        now = time.monotonic()
        done = sum(self.stats.get_value(name, 0) for name in PROGRESS_STATS)
        waiting = self._waiting(engine)
        busy = len(engine.downloader.active) > waiting or (
            not waiting and engine._slot.scheduler.has_pending_requests()
        )
        if done != self._progress[0] or not busy:
            # Progress, or nothing to make progress on: only bounded waits (robots.txt retries,
            # Retry-After holds), or an idle worker of a distributed run.
            self._progress = (done, now)
        elif self.no_progress_timeout and now - self._progress[1] > self.no_progress_timeout:
            logger.error(
                "No request finished in %.0fs (ARCHIVE_NO_PROGRESS_TIMEOUT): closing the crawl",
                now - self._progress[1],
            )
            self.stats.set_value(
                "run/no_progress", f"no request finished in {self.no_progress_timeout:.0f}s"
            )
            self.stop()
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason="no-progress"))
            return
        if self._only_waiting(engine):
            self._idle_since = self._idle_since or now
            left = self.idle_wait_max - (now - self._idle_since)
            # A wait that cannot end within the bound is given up at once: the rest of the crawl
            # is done, and waiting longer would only hold the run open.
            if left <= 0 or min(self._waits.values()) - now > left:
                logger.info(
                    "Only %d waits left for %.0fs (ARCHIVE_IDLE_WAIT_MAX): giving them up",
                    len(self._waits),
                    now - self._idle_since,
                )
                self.stats.inc_value("run/idle_waits_given_up", len(self._waits))
                self._wake_all()
                self._idle_since = None
        else:
            self._idle_since = None

    def _only_waiting(self, engine) -> bool:
        """Nothing is scheduled or transferring: every request in the downloader is waiting."""
        if not self._waits:
            return False
        if engine._slot.scheduler.has_pending_requests() or not engine.scraper.slot.is_idle():
            return False
        downloader = engine.downloader
        if any(slot.transferring for slot in downloader.slots.values()):
            return False
        return len(downloader.active) <= self._waiting(engine)

    def _waiting(self, engine) -> int:
        """Requests that are waiting on purpose: our waits, and those queued behind a host held
        back by ``Retry-After`` (crawler.politeness moves its slot's next start into the future)."""
        now = time.monotonic()
        held = sum(
            len(slot.queue) for slot in engine.downloader.slots.values() if slot.lastseen > now
        )
        return len(self._waits) + held
