"""Shared behaviour of the archiving spiders: discovery from robots.txt, sitemaps and feeds, scope,
page classification, page resources, and a logged outcome for every failed request."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from twisted.python.failure import Failure

from crawler.incremental import LEDGER_STATE, NotDue
from crawler.items import ArticlePage
from crawler.warc_capture import CAPTURE_KIND, FETCH_STARTED, RESPONSE_RECORD
from pipelines.archive_session import ArchiveSession

logger = logging.getLogger(__name__)

# URL path fragments of WordPress pages that list posts rather than being one.
LISTING_MARKERS = ("/category/", "/tag/", "/author/", "/page/", "/feed", "/search/", "/wp-json/")
ARTICLE_LD_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle"}
RESOURCE_SELECTORS = (
    "link[rel~=stylesheet]::attr(href)",
    "script[src]::attr(src)",
    "img::attr(src)",
    "link[rel~=icon]::attr(href)",
)


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.lower()


class ArchiveSpider(SitemapSpider):
    """A spider that archives one site: give it ``base_url``; subclasses decide what is an item."""

    sitemap_rules: ClassVar[list[tuple[str, str]]] = [("", "parse_page")]

    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL must be http(s)://host[:port], got {base_url!r}")
        self.scope = {_netloc(self.base_url)}
        self.sitemap_urls = [f"{self.base_url}/robots.txt"]
        self.sitemap_lastmod: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.follow_links = crawler.settings.getbool("LIFEGATE_FOLLOW_LINKS")
        spider.fetch_resources = crawler.settings.getbool("LIFEGATE_FETCH_RESOURCES")
        return spider

    # --- discovery ---------------------------------------------------------------------------

    def discovery_urls(self) -> Iterable[tuple[str, str]]:
        """(url, source) pairs fetched first besides robots.txt: feeds and the home page."""
        yield f"{self.base_url}/feed", "feed"
        yield f"{self.base_url}/", "listing"

    async def start(self) -> AsyncIterator[Any]:
        # robots.txt -> sitemap index -> sitemaps, through Scrapy's own sitemap parser.
        async for request in super().start():
            yield request.replace(errback=self.on_error, meta={"discovered_via": "sitemap"})
        for url, source in self.discovery_urls():
            callback = self.parse_feed if source == "feed" else self.parse_page
            yield Request(url, callback, errback=self.on_error, meta={"discovered_via": source})
        session = self.crawler.get_extension(ArchiveSession)
        if session is not None and session.ledger is not None:
            now = datetime.now(timezone.utc)
            for url in session.ledger.due_urls(now, session.policy):
                if self.in_scope(url):
                    self.crawler.stats.inc_value("discovery/ledger_rechecks")
                    yield Request(
                        url,
                        self.parse_page,
                        errback=self.on_error,
                        priority=-1,  # after discovery, which may bring a fresher lastmod
                        meta={"discovered_via": "ledger"},
                    )

    def _parse_sitemap(self, response: Response):
        for request in super()._parse_sitemap(response):
            yield request.replace(
                errback=self.on_error,
                meta={"discovered_via": "sitemap", "sitemap_lastmod": self.sitemap_lastmod.get(request.url)},
            )

    def sitemap_filter(self, entries):
        for entry in entries:
            loc = entry.get("loc", "")
            if not self.in_scope(loc):
                self.crawler.stats.inc_value("discovery/sitemap_out_of_scope")
                continue
            if entry.get("lastmod"):
                self.sitemap_lastmod[loc] = entry["lastmod"]
            self.crawler.stats.inc_value("discovery/sitemap_urls")
            yield entry

    def parse_feed(self, response: Response):
        if not isinstance(response, TextResponse):
            return
        for link in response.xpath("//item/link/text() | //*[local-name()='entry']/*[local-name()='link']/@href").getall():
            url = response.urljoin(link.strip())
            if self.in_scope(url):
                self.crawler.stats.inc_value("discovery/feed_urls")
                yield Request(url, self.parse_page, errback=self.on_error, meta={"discovered_via": "feed"})

    # --- pages ---------------------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.netloc.lower() in self.scope

    def is_article(self, response: TextResponse) -> bool:
        """True for a single post; listings, tag, author and static pages are not articles."""
        path = urlsplit(response.url).path
        if any(marker in path for marker in LISTING_MARKERS):
            return False
        body_class = response.css("body::attr(class)").get("")
        if "single-post" in body_class.split():
            return True
        if response.css('meta[property="og:type"]::attr(content)').get("") == "article":
            return True
        for raw in response.css('script[type="application/ld+json"]::text').getall():
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            for node in data if isinstance(data, list) else data.get("@graph", [data]):
                kind = node.get("@type") if isinstance(node, dict) else None
                kinds = kind if isinstance(kind, list) else [kind]
                if ARTICLE_LD_TYPES.intersection(k for k in kinds if isinstance(k, str)):
                    return True
        return False

    def parse_page(self, response: Response):
        via = response.meta.get("discovered_via", "link")
        if response.status == 304:
            # Unchanged since the last capture: nothing to read, but the recheck is recorded.
            yield self.article_item(response, via)
            return
        if not isinstance(response, TextResponse):
            return  # an image or other resource: archived, nothing to read
        if self._redirected_home(response):
            return
        if self.is_article(response):
            item = self.article_item(response, via)
            if item is not None:
                yield item
            if self.fetch_resources:
                yield from self.resource_requests(response)
        if self.follow_links:
            yield from self.link_requests(response)
        for href in response.css(
            'link[rel=alternate][type="application/rss+xml"]::attr(href),'
            ' link[rel=alternate][type="application/atom+xml"]::attr(href)'
        ).getall():
            url = response.urljoin(href.strip())
            if self.in_scope(url):
                yield Request(url, self.parse_feed, errback=self.on_error, meta={"discovered_via": "feed"})

    def article_item(self, response: Response, via: str) -> ArticlePage | None:
        def header(name: str) -> str | None:
            value = response.headers.get(name)
            return value.decode("latin-1") if value else None

        kind = response.meta.get(CAPTURE_KIND, "response")
        started = response.meta.get(FETCH_STARTED)
        return ArticlePage(
            url=response.url,
            body=response.body if kind != "not-modified" else None,
            status=response.status,
            content_type=header("Content-Type"),
            fetched=(started or datetime.now(timezone.utc)).isoformat(),
            discovered_via=via,
            warc_record=response.meta.get(RESPONSE_RECORD),
            sitemap_lastmod=self.sitemap_lastmod.get(response.url),
            capture_kind=kind,
            etag=header("ETag"),
            last_modified=header("Last-Modified"),
            known=response.meta.get(LEDGER_STATE) is not None,
        )

    def _redirected_home(self, response: TextResponse) -> bool:
        """An archived article that now redirects to the home page has been taken down."""
        chain = response.meta.get("redirect_urls")
        if not chain or urlsplit(response.url).path not in ("", "/"):
            return False
        session = self.crawler.get_extension(ArchiveSession)
        if session is None or session.ledger is None or session.ledger.get(chain[0]) is None:
            return False
        self.mark_gone(chain[0], f"redirects to the home page ({response.url})")
        return True

    def mark_gone(self, url: str, reason: str) -> None:
        session = self.crawler.get_extension(ArchiveSession)
        self.crawler.stats.inc_value("incremental/gone")
        if session is not None:
            session.journal({"type": "gone", "url": url, "reason": reason})
            session.log_event("gone", url, reason)

    def resource_requests(self, response: TextResponse):
        for selector in RESOURCE_SELECTORS:
            for ref in response.css(selector).getall():
                url = urljoin(response.url, ref.strip())
                if urlsplit(url).scheme in ("http", "https"):
                    self.crawler.stats.inc_value("discovery/resources")
                    yield Request(
                        url,
                        self.parse_resource,
                        errback=self.on_error,
                        priority=1,  # finish a page's requisites before moving on
                        meta={"discovered_via": "resource"},
                    )

    def link_requests(self, response: TextResponse):
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href.strip()).split("#", 1)[0]
            if self.in_scope(url):
                yield Request(url, self.parse_page, errback=self.on_error, meta={"discovered_via": "link"})

    def parse_resource(self, response: Response):
        return ()

    # --- failures: every one gets a logged outcome ---------------------------------------------

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(NotDue):
            return  # counted by the incremental middleware; nothing went wrong
        session = self.crawler.get_extension(ArchiveSession)
        if failure.check(HttpError):
            response = failure.value.response
            kind, reason = "http-error", f"HTTP {response.status}"
            known = session is not None and session.ledger is not None and session.ledger.get(request.url)
            if response.status in (404, 410) and known:
                self.mark_gone(request.url, reason)
                return
        elif failure.check(IgnoreRequest):
            kind, reason = "skipped", str(failure.value) or "ignored"
        else:
            kind, reason = "request-failed", f"{failure.type.__name__}: {failure.value}"
        self.crawler.stats.inc_value(f"outcome/{kind}")
        if session is not None:
            session.log_event(kind, request.url, reason)
        else:
            logger.warning("%s %s: %s", kind, request.url, reason)
