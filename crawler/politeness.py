"""Honour ``Retry-After`` on 429 and 503 (Scrapy retries those at once: scrapy#3849).

The retry waits the time the server asked for (up to ``ARCHIVE_RETRY_AFTER_MAX`` seconds) and the
host's download slot is held back for that long too, so other requests to the same host wait with
it. A server asking for longer gets no retry; the response is archived and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

from crawler.watchdog import Watchdog

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = {429, 503}


def parse_retry_after(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None if unusable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    """Downloader middleware placed before RetryMiddleware (550) in response order.

    Built directly (no crawler), it decides and counts but has no retry to give: a wait it would
    accept is left to Scrapy's RetryMiddleware. ``from_crawler`` gives it the running crawl's
    spider, download slots and ``Watchdog``.
    """

    def __init__(self, stats, *, max_wait: float, max_retries: int) -> None:
        self.stats = stats
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.crawler: Crawler | None = None  # set by from_crawler

    @classmethod
    def from_crawler(cls, crawler) -> RetryAfterMiddleware:
        middleware = cls(
            crawler.stats,
            max_wait=crawler.settings.getfloat("ARCHIVE_RETRY_AFTER_MAX"),
            max_retries=crawler.settings.getint("RETRY_TIMES"),
        )
        middleware.crawler = crawler
        return middleware

    def _slot(self, request: Request):
        if self.crawler is None:
            return None, None  # built without a crawler
        try:
            downloader = self.crawler.engine.downloader
        except (RuntimeError, AttributeError):  # no engine: used outside a running crawl
            return None, None
        return downloader, downloader.slots.get(downloader.get_slot_key(request))

    def _hold_host(self, request: Request, seconds: float) -> None:
        _, slot = self._slot(request)
        if slot is not None:
            # The slot computes its next start from lastseen + delay: moving lastseen forward
            # holds every queued request for this host back.
            slot.lastseen = max(slot.lastseen, time.monotonic() + seconds)

    def _release_host(self, request: Request) -> None:
        """End a hold early (the wait was given up): the host's queued requests go on now."""
        downloader, slot = self._slot(request)
        if slot is None:
            return
        slot.lastseen = min(slot.lastseen, time.monotonic())
        # Scrapy's slot has a delayed call pending for the old hold; it is replaced by one now.
        if slot.latercall is not None:
            slot.latercall.cancel()
        slot.latercall = None
        downloader._process_queue(slot)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None:
            return response  # no usable Retry-After: Scrapy's RetryMiddleware decides
        stats = self.stats
        if wait > self.max_wait:
            stats.inc_value("politeness/retry_after_refused")
            logger.warning(
                "%s asks to come back in %.0fs (more than ARCHIVE_RETRY_AFTER_MAX=%.0fs): not retrying",
                request.url,
                wait,
                self.max_wait,
            )
            request.meta["dont_retry"] = True
            return response
        spider = self.crawler.spider if self.crawler is not None else None
        if spider is None:
            return response  # not in a running crawl: no spider to retry for
        retry = get_retry_request(
            request,
            spider=spider,
            reason=f"{response.status} with Retry-After {wait:.0f}s",
            max_retry_times=self.max_retries,
        )
        if retry is None:
            request.meta["dont_retry"] = True
            return response
        stats.inc_value("politeness/retry_after_waits")
        stats.inc_value("politeness/retry_after_seconds", round(wait))
        logger.info("%s: %d, waiting %.0fs as the server asked", request.url, response.status, wait)
        self._hold_host(request, wait)
        watchdog = spider.crawler.get_extension(Watchdog)
        if watchdog is None:
            await asyncio.sleep(wait)
        elif not await watchdog.wait(wait):
            # Nothing else was left to do (or the crawl stops): not retried, archived as it is.
            self._release_host(request)
            stats.inc_value("politeness/retry_after_refused")
            request.meta["dont_retry"] = True
            return response
        return retry
