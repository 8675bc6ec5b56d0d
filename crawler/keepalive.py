"""HTTP downloads that keep their connections (``ARCHIVE_IDLE_CONNECTIONS_PER_HOST``).

Scrapy sizes Twisted's connection pool to ``CONCURRENT_REQUESTS_PER_DOMAIN``. The pool gets a
connection back only after the response has been handed on, by which time the next request has
often asked for one, found none and opened another; the pool, full, then closes the returning
one. A crawl of the benchmark site opened a new TCP connection for nearly every request (11,832
connects for 10,920 requests; known: twisted/treq#188, scrapy#5618). Even at one request at a time,
several connections can be waiting to go back to the pool while responses are processed, so the
pool keeps up to ``CONCURRENT_REQUESTS`` idle connections per host by default: 32 connects for
the same crawl (twice 2 per domain: 5,546; 4: 3,156; 8: 410). Concurrency is unchanged: Scrapy's
slots still decide how many requests a host has at once; at a polite pace one connection is
back long before the next request and only one is ever opened.
"""

from __future__ import annotations

import asyncio
from typing import Self

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from crawler.watchdog import stopping


def idle_connections_per_host(settings) -> int:
    """``ARCHIVE_IDLE_CONNECTIONS_PER_HOST``, or for 0 the crawl's request concurrency."""
    return settings.getint("ARCHIVE_IDLE_CONNECTIONS_PER_HOST") or max(
        settings.getint("CONCURRENT_REQUESTS"),
        settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
        1,
    )


class CrawlStopping(IgnoreRequest):
    """A download not started, or cut off, because the crawl is stopping (SIGINT/SIGTERM)."""


class KeepAliveDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with a connection pool that keeps enough idle connections.

    When the crawl stops, downloads in flight are cut off and no new one starts: a slow server
    cannot hold a stopping crawl open, and nothing is requested after the stop began.
    """

    def __init__(self, crawler, idle_per_host: int) -> None:
        # The crawler is Scrapy's base class's (TLS, proxies, size limits read from the settings).
        super().__init__(crawler)
        self._pool.maxPersistentPerHost = idle_per_host
        self._stopping = False
        self._inflight: set[asyncio.Task] = set()

    @classmethod
    def from_crawler(cls, crawler) -> Self:
        handler = cls(crawler, idle_connections_per_host(crawler.settings))
        crawler.signals.connect(handler._stop, signal=stopping)
        return handler

    def _stop(self) -> None:
        self._stopping = True
        for download in list(self._inflight):
            download.cancel()

    async def download_request(self, request: Request) -> Response:
        if self._stopping:
            raise CrawlStopping("the crawl is stopping: not fetched")
        download = asyncio.ensure_future(super().download_request(request))
        self._inflight.add(download)
        try:
            return await asyncio.shield(download)
        except asyncio.CancelledError:
            if download.cancelled() and self._stopping:
                raise CrawlStopping("the crawl stopped during the download") from None
            raise
        finally:
            self._inflight.discard(download)
