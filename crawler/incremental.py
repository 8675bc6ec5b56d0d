"""Incremental crawling: fetch only what is new or due for a recheck, and recheck conditionally.

``RecrawlFilterMiddleware`` (spider middleware) drops requests for known articles that the recrawl
policy says are not due, and notes which source revealed each URL. ``ConditionalRequestMiddleware``
(downloader middleware, before WARC capture) adds ``If-None-Match`` / ``If-Modified-Since`` to
rechecks, so an unchanged page costs a 304 and a revisit record.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.session_component import SessionComponent

logger = logging.getLogger(__name__)

LEDGER_STATE = "ledger_state"


class NotDue(IgnoreRequest):
    """A known article reached through a redirect, not due for a recheck: skipped, not an error."""


# Sources that reveal articles; resources and sitemaps themselves are not "seen" as articles.
ARTICLE_SOURCES = {"sitemap", "feed", "listing", "link"}


class RecrawlFilterMiddleware(SessionComponent):
    """Spider middleware: skip known articles that are not due, record discovery sources."""

    def _keep(self, request: Request) -> bool:
        source = request.meta.get("discovered_via")
        if self.session is None or self.session.ledger is None or source not in ARTICLE_SOURCES:
            return True
        lastmod = request.meta.get("sitemap_lastmod")
        self.session.seen(request.url, source, lastmod)
        state = self.session.ledger.get(request.url)
        if state is None or state.due(datetime.now(UTC), self.session.policy, lastmod):
            return True
        self.stats.inc_value("incremental/not_due")
        return False

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in start:
            if not isinstance(item, Request) or self._keep(item):
                yield item

    # A universal spider middleware: a sync and an async variant (Scrapy picks by callback type).
    def process_spider_output(self, response, result: Iterable[Any]) -> Iterable[Any]:
        for item in result:
            if not isinstance(item, Request) or self._keep(item):
                yield item

    async def process_spider_output_async(
        self, response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for item in result:
            if not isinstance(item, Request) or self._keep(item):
                yield item


class ConditionalRequestMiddleware(SessionComponent):
    """Downloader middleware: conditional headers for rechecks of archived articles."""

    def process_request(self, request: Request) -> None:
        if self.session is None or self.session.ledger is None or request.method != "GET":
            return
        state = self.session.ledger.get(request.url)
        if state is None or not state.archived:
            return
        # Redirects bypass the spider middleware's filter: an old URL leading to a known article.
        if request.meta.get("redirect_urls") and not state.due(
            datetime.now(UTC), self.session.policy
        ):
            self.stats.inc_value("incremental/not_due")
            raise NotDue(f"{request.url} is not due for a recheck")
        request.meta[LEDGER_STATE] = state
        if state.etag:
            request.headers.setdefault(b"If-None-Match", state.etag.encode("latin-1"))
        if state.last_modified:
            request.headers.setdefault(b"If-Modified-Since", state.last_modified.encode("latin-1"))
        if state.etag or state.last_modified:
            # A 304 is an answer, not an error: let it through to the spider.
            allowed = list(request.meta.get("handle_httpstatus_list", []))
            request.meta["handle_httpstatus_list"] = [*allowed, 304]
            self.stats.inc_value("incremental/conditional_requests")
