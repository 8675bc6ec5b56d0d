"""Records every HTTP exchange as WARC request and response records (``WARC_*`` settings).

Placed at priority 950, after HttpCompression (590), Redirect (600) and Retry (550) in response
order, so it sees the body still content-coded as the server sent it, and every redirect and
retried response on its own. Cached responses are not new captures and are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from archive.warc import (
    PROFILE_IDENTICAL_PAYLOAD,
    PROFILE_SERVER_NOT_MODIFIED,
    HttpExchange,
    RevisitTarget,
    payload_digest,
    warc_date,
)
from crawler.hostile import log_case
from crawler.incremental import LEDGER_STATE
from crawler.session_component import SessionComponent
from pipelines.archive_session import ArchiveSession

logger = logging.getLogger(__name__)

FETCH_STARTED = "warc_fetch_started"
RESPONSE_RECORD = "warc_response_record"
# "response" (a full record), "revisit" (same payload as the last capture), "not-modified" (a 304).
CAPTURE_KIND = "warc_capture_kind"


class ArchiveWriteError(Exception):
    """A WARC record could not be written: the archive failed, not the page or its host."""


def _header_pairs(headers) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, values in headers.items() for value in values]


class WarcCaptureMiddleware(SessionComponent):
    """Downloader middleware that archives each exchange before anything decodes it.

    The response reaches the spider only once its records are flushed to the WARC file, and the
    response record's location is left in ``request.meta["warc_response_record"]``.
    """

    def __init__(self, stats, session: ArchiveSession | None = None) -> None:
        super().__init__(stats, session)
        self._closing: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler) -> WarcCaptureMiddleware:
        if not crawler.settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        return cls(crawler.stats).attach(crawler)

    def process_request(self, request: Request) -> None:
        # WARC-Date is when the capture began (WARC 1.1 §5.4), the same on request and response.
        request.meta[FETCH_STARTED] = datetime.now(UTC)

    async def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags or self.session is None:
            return response
        exchange = HttpExchange(
            url=request.url,
            method=request.method,
            request_headers=_header_pairs(request.headers),
            request_body=request.body,
            protocol=response.protocol or "HTTP/1.1",
            status=response.status,
            response_headers=_header_pairs(response.headers),
            body=response.body,
            fetch_started=request.meta.get(FETCH_STARTED) or datetime.now(UTC),
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="disconnect" if "dataloss" in response.flags else None,
        )
        state = request.meta.get(LEDGER_STATE)
        kind = "response"
        digest = payload_digest(response.body)
        known_digest = state.payload_digest if state is not None else None
        if state is not None and state.record_id and not exchange.truncated:
            target = RevisitTarget(
                state.record_id, exchange.url.split("#", 1)[0], state.record_date or ""
            )
            if response.status == 304:
                kind = "not-modified"
            elif response.status == 200 and digest == state.payload_digest:
                kind = "revisit"
        payloads = self.session.payloads
        if kind == "response" and state is None and payloads is not None and not exchange.truncated:
            # Pages the ledger does not follow (listings, feeds, sitemaps, resources): the same
            # body anywhere in the archive makes this an identical-payload revisit.
            found = payloads.target(digest)
            if found is not None:
                kind, target, known_digest = "revisit", found, digest
                self.stats.inc_value("warc/identical_payload_revisits")
        request.meta[CAPTURE_KIND] = kind
        try:
            if kind == "response":
                locations = await self.session.write_exchange(exchange)
            else:
                locations = await self.session.write_revisit(
                    exchange,
                    profile=PROFILE_SERVER_NOT_MODIFIED
                    if kind == "not-modified"
                    else PROFILE_IDENTICAL_PAYLOAD,
                    refers_to=target,
                    payload_digest=known_digest,
                )
        except Exception as exc:
            # A full or failing disk (or any failing write) must stop the crawl, not silently
            # drop captures; it is the archive's failure, never the page's.
            logger.critical("Cannot write WARC record for %s: %s", request.url, exc)
            if self.stats.get_value("run/store_failed") is None:
                self.stats.set_value(
                    "run/store_failed", f"cannot write WARC records: {type(exc).__name__}: {exc}"
                )
                if self.crawler is not None:
                    self._closing = asyncio.ensure_future(
                        self.crawler.engine.close_spider_async(reason="warc-write-failed")
                    )
            raise ArchiveWriteError(f"{type(exc).__name__}: {exc}") from exc
        if locations:
            request.meta[RESPONSE_RECORD] = locations[0].as_dict()
            if kind == "response" and payloads is not None and not exchange.truncated:
                payloads.add(
                    digest,
                    exchange.url.split("#", 1)[0],
                    warc_date(exchange.fetch_started),
                    locations[0].record_id,
                )
        if exchange.truncated:
            log_case(
                self.stats,
                self.session,
                "truncated",
                request.url,
                "connection closed before the end of the body: archived with WARC-Truncated: disconnect",
            )
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        # No response means no record; the crawl log says what happened instead. Requests refused
        # before any fetch (robots.txt, offsite) reach the spider's errback, which logs them.
        if self.session is not None and not isinstance(exception, IgnoreRequest):
            self.session.log_event(
                "fetch-failed",
                request.url,
                f"{type(exception).__name__}: {exception}",
                attempt=request.meta.get("retry_times", 0) + 1,
            )
