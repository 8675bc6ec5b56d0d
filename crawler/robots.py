"""robots.txt as RFC 9309 says, in place of Scrapy's RobotsTxtMiddleware (``ARCHIVE_ROBOTS_*`` settings).

Scrapy reads a 5xx or a timeout as "allow all"; RFC 9309 §2.3.1.4 says the opposite: an unreachable
robots.txt means complete disallow. Here requests to such a host wait while robots.txt is fetched
again after ``ARCHIVE_ROBOTS_RETRY_DELAY`` seconds, up to ``ARCHIVE_ROBOTS_RETRIES`` times, and are
refused if it never answers. A 4xx allows all (§2.3.1.3); only the first 500 KiB are parsed (§2.5).

The retries wait only while the rest of the crawl has work: once those waits are all that is left
(``crawler.watchdog``), the host's requests are skipped as ``robots-unreachable`` with the reason,
and the next run tries again. The crawled site's own robots.txt unreachable makes a failed run.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from crawler.hostile import HostileRefusal, record_case
from crawler.warc_capture import ArchiveWriteError
from crawler.watchdog import Watchdog

logger = logging.getLogger(__name__)

# RFC 9309 §2.2 records plus the widespread extensions (§2.2.4); any other line is not a rule.
KNOWN_FIELDS = frozenset((
    "user-agent", "allow", "disallow", "sitemap", "crawl-delay", "host", "clean-param",
    "request-rate", "visit-time", "noindex",
))  # fmt: skip
_RULE_LINE = re.compile(rb"^\s*([A-Za-z-]+)\s*:")


@dataclass(slots=True)
class _HostRobots:
    """What is known of one host's robots.txt."""

    parser: RobotParser | None = None  # None with no unreachable reason: allow all
    unreachable: str | None = None  # why the last fetch failed, while it is unreachable
    fetches: int = 0
    retry_at: float = 0.0
    pending: asyncio.Future | None = None
    given_up: bool = False  # retries abandoned: nothing else was left to do, or the crawl stops
    stopped: bool = False  # the fetch was cut off by the crawl stopping: says nothing of the host
    # The last robots.txt response of a host whose robots.txt the spider reads for its sitemaps,
    # until the spider's own request for it takes it.
    response: Response | None = None


def unreachable_reason(exc: Exception) -> str:
    """A short cause for a failed fetch, as a user would name it."""
    name = type(exc).__name__
    text = str(exc)
    if name in ("CannotResolveHostError", "DNSLookupError"):
        return "DNS lookup failed"
    if name in ("DownloadConnectionRefusedError", "ConnectionRefusedError"):
        return "connection refused"
    if "SSL" in text or "TLS" in text or "certificate" in text:
        return "TLS handshake failed"
    if "Timeout" in name:
        return f"timed out ({name})"
    return f"{name}: {text}" if text else name


def malformed_lines(body: bytes) -> int:
    """Lines that are neither blank, comments, nor a known ``field: value`` rule."""
    count = 0
    for line in body.splitlines():
        line = line.split(b"#", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
        if line and not (
            (m := _RULE_LINE.match(line)) and m.group(1).lower().decode() in KNOWN_FIELDS
        ):
            count += 1
    return count


def cut_to_limit(body: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of ``body``, ending at a line break so no rule is cut in half."""
    if len(body) <= limit:
        return body
    head = body[:limit]
    return head[: head.rfind(b"\n") + 1]


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with RFC 9309's error handling and size limit.

    The crawler is Scrapy's base class's (it fetches robots.txt through the engine); this class's
    own limits are plain values, read from the settings by ``from_crawler``.
    """

    def __init__(
        self, crawler, *, max_bytes: int, retry_delay: float, retries: int, timeout: float
    ) -> None:
        super().__init__(crawler)
        self.max_bytes = max_bytes
        self.retry_delay = retry_delay
        self.retries = retries
        self.timeout = timeout
        self._hosts: dict[str, _HostRobots] = {}

    @classmethod
    def from_crawler(cls, crawler) -> Self:
        settings = crawler.settings
        return cls(
            crawler,
            max_bytes=settings.getint("ARCHIVE_ROBOTS_MAX_BYTES"),
            retry_delay=settings.getfloat("ARCHIVE_ROBOTS_RETRY_DELAY"),
            retries=settings.getint("ARCHIVE_ROBOTS_RETRIES"),
            # robots.txt is a small file: a host that cannot send it in this time is unreachable,
            # and every request to it is waiting meanwhile (pages keep DOWNLOAD_TIMEOUT).
            timeout=min(
                settings.getfloat("ARCHIVE_ROBOTS_TIMEOUT"), settings.getfloat("DOWNLOAD_TIMEOUT")
            ),
        )

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parts = urlparse_cached(request)
        state = self._hosts.setdefault(parts.netloc, _HostRobots())
        while True:
            if state.pending is not None:
                # One fetch per host at a time, and every waiter sees its outcome. Scrapy 2.19 has
                # each waiter await the same Deferred (since scrapy#6802); under asyncio the second
                # one gets None, i.e. "allow all", while robots.txt was still downloading.
                await asyncio.shield(state.pending)
                continue
            if state.fetches and state.unreachable is None:
                return state.parser
            if state.fetches > self.retries or state.given_up:
                return None  # unreachable for good: process_request_2 refuses
            wait = state.retry_at - time.monotonic()
            if state.fetches and wait > 0:
                watchdog = self.crawler.get_extension(Watchdog)
                if watchdog is None:
                    await asyncio.sleep(wait)
                elif not await watchdog.wait(wait):
                    state.given_up = True
                continue
            await self._fetch(state, f"{parts.scheme}://{parts.netloc}/robots.txt", parts.netloc)

    # Scrapy's base returns None only; a downloader middleware may return a Response.
    async def process_request(self, request: Request) -> Response | None:  # type: ignore[override]
        """Scrapy's check, then the spider's own request for a robots.txt this middleware has
        fetched is answered with that response (flagged ``cached``: it is archived once, when it
        was fetched), so a host sees one robots.txt request per crawl, not two."""
        await super().process_request(request)
        parts = urlparse_cached(request)
        if parts.path != "/robots.txt" or parts.query or request.meta.get("dont_obey_robotstxt"):
            return None
        state = self._hosts.get(parts.netloc)
        if state is None or state.response is None or state.response.url != request.url:
            return None
        response, state.response = state.response, None
        self._stats.inc_value("robotstxt/served_from_fetch")
        return response.replace(request=request, flags=[*response.flags, "cached"])

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        host = urlparse_cached(request).netloc
        state = self._hosts.get(host)
        if state is not None and state.unreachable is not None:
            self._stats.inc_value("robotstxt/unreachable_refused")
            self._stats.inc_value(f"skipped_hosts/{host}")
            self._stats.set_value(f"skipped_hosts_reason/{host}", state.unreachable)
            site = urlsplit(getattr(self.crawler.spider, "base_url", "")).netloc
            first = self._stats.get_value("run/site_unreachable") is None
            if host == site and not state.stopped and first:
                self._stats.set_value("run/site_unreachable", f"{host}: {state.unreachable}")
            raise HostileRefusal(
                "robots-unreachable",
                f"robots.txt of {host} unreachable after {state.fetches} attempts "
                f"({state.unreachable}): complete disallow (RFC 9309 §2.3.1.4); skipped, "
                "the next run tries again",
                host=host,
            )
        super().process_request_2(rp, request)

    async def _fetch(self, state: _HostRobots, url: str, netloc: str) -> None:
        state.pending = asyncio.get_running_loop().create_future()
        state.fetches += 1
        self._stats.inc_value("robotstxt/request_count")
        try:
            request = Request(
                url,
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True, "download_timeout": self.timeout},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(request)
            except ArchiveWriteError:
                raise  # the archive failed, not the host
            except Exception as exc:  # noqa: BLE001 (any failure to fetch is "unreachable")
                self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
                watchdog = self.crawler.get_extension(Watchdog)
                if watchdog is not None and watchdog.stopped:
                    state.unreachable = "the crawl stopped first"
                    state.given_up = state.stopped = True
                    return
                self._unreachable(state, url, unreachable_reason(exc))
                return
            await self._read(state, url, response)
        finally:
            state.pending.set_result(None)
            state.pending = None

    async def _read(self, state: _HostRobots, url: str, response: Response) -> None:
        self._stats.inc_value("robotstxt/response_count")
        if url in getattr(self.crawler.spider, "sitemap_urls", ()):
            state.response = response  # the spider reads this robots.txt too: one fetch for both
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        # 429 is "unreachable" too: the server is overloaded, not telling us it has no rules.
        if response.status >= 500 or response.status == 429:
            self._unreachable(state, url, f"robots.txt answered HTTP {response.status}")
            return
        if state.unreachable is not None:
            logger.info(
                "robots.txt %s answers again (HTTP %d) after %d attempts",
                url,
                response.status,
                state.fetches,
            )
        state.unreachable = None
        if response.status >= 400:
            state.parser = None
            record_case(
                self.crawler,
                "robots-unavailable",
                url,
                f"HTTP {response.status}: no rules, everything allowed (RFC 9309 §2.3.1.3)",
            )
            return
        body = response.body
        if len(body) > self.max_bytes:
            body = cut_to_limit(body, self.max_bytes)
            record_case(
                self.crawler,
                "robots-too-large",
                url,
                f"{len(response.body)} bytes: only the first {len(body)} parsed "
                f"(ARCHIVE_ROBOTS_MAX_BYTES={self.max_bytes}, RFC 9309 §2.5)",
            )
        if bad := malformed_lines(body):
            record_case(
                self.crawler,
                "robots-malformed",
                url,
                f"{bad} lines are not robots.txt rules: ignored, the other rules apply",
            )
        state.parser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=state.parser, request=response.request
        )

    def _unreachable(self, state: _HostRobots, url: str, reason: str) -> None:
        state.unreachable = reason
        state.retry_at = time.monotonic() + self.retry_delay
        if state.fetches > self.retries:
            outcome = "the host stays disallowed for this crawl"
        else:
            outcome = f"host disallowed, robots.txt fetched again in {self.retry_delay:.0f}s"
        record_case(
            self.crawler,
            "robots-unreachable",
            url,
            f"{reason} (attempt {state.fetches} of {self.retries + 1}): {outcome} (RFC 9309 §2.3.1.4)",
        )
