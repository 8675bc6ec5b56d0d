"""Shared behaviour of the archiving spiders: discovery from robots.txt, sitemaps and feeds, scope,
page classification, page resources, and a logged outcome for every failed request or hostile input."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from scrapy.spiders.sitemap import iterloc
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure

from archive.rewrite import css_urls
from crawler.distributed import DistributedRun
from crawler.frontier import ARTICLE_EXPECTED
from crawler.hostile import RESPONSE_CASES, failure_case, flag_record, note_case, record_case
from crawler.incremental import LEDGER_STATE, NotDue
from crawler.items import ArticlePage
from crawler.page_guard import PageGuard
from crawler.page_outline import PageOutline
from crawler.scope import ScopeRules
from crawler.sitemaps import SitemapLimits, dtd_refusal, open_sitemap, sitemap_body
from crawler.warc_capture import CAPTURE_KIND, FETCH_STARTED, RESPONSE_RECORD
from crawler.watchdog import Watchdog
from pipelines.archive_session import ArchiveSession

logger = logging.getLogger(__name__)

# URL path fragments of WordPress pages that list posts rather than being one.
LISTING_MARKERS = ("/category/", "/tag/", "/author/", "/page/", "/feed", "/search/", "/wp-json/")
# Hrefs remembered as already handled (link_requests); past this many they are forgotten at once.
HANDLED_HREFS_LIMIT = 20_000
ARTICLE_LD_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle"}


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.lower()


def is_listing(url: str) -> bool:
    """True for a URL whose path marks a page that lists posts (``LISTING_MARKERS``)."""
    path = urlsplit(url).path
    return any(marker in path for marker in LISTING_MARKERS)


def site_name(url: str) -> str:
    """A site's name from its configured URL: the host without ``www.``."""
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


class ArchiveSpider(SitemapSpider):
    """A spider that archives one site: give it ``base_url``; subclasses decide what is an item."""

    sitemap_rules: Sequence[tuple[str, str]] = [("", "parse_page")]

    # The name of the site a crawl is for, recorded on its articles whatever host serves them (a
    # mirror, the offline fixture on loopback); subclasses set it from their site setting.
    site_name: str | None = None

    # Set by from_crawler, from the settings.
    follow_links: bool
    fetch_resources: bool
    srcset_limit: int
    sitemap_limits: SitemapLimits
    scope_rules: ScopeRules
    page_guard: PageGuard

    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL must be http(s)://host[:port], got {base_url!r}")
        self.scope = {_netloc(self.base_url)}
        self.sitemap_urls = [f"{self.base_url}/robots.txt"]
        self.sitemap_lastmod: dict[str, str] = {}
        self._linked: set[str] = set()
        self._handled_hrefs: set[tuple[tuple[str, str], str]] = set()
        self._sitemaps_requested: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.follow_links = crawler.settings.getbool("LIFEGATE_FOLLOW_LINKS")
        spider.fetch_resources = crawler.settings.getbool("LIFEGATE_FETCH_RESOURCES")
        spider.srcset_limit = crawler.settings.getint("ARCHIVE_SRCSET_MAX_CANDIDATES")
        spider.sitemap_limits = SitemapLimits.from_settings(crawler.settings)
        spider.scope_rules = ScopeRules.from_settings(crawler.settings)
        spider.page_guard = PageGuard.from_settings(crawler.settings)
        return spider

    # --- discovery ---------------------------------------------------------------------------

    def discovery_urls(self) -> Iterable[tuple[str, str]]:
        """(url, source) pairs fetched first besides robots.txt: feeds and the home page."""
        yield f"{self.base_url}/feed", "feed"
        yield f"{self.base_url}/", "listing"

    async def start(self) -> AsyncIterator[Any]:
        # robots.txt -> sitemap index -> sitemaps, through Scrapy's own sitemap parser.
        async for request in super().start():
            self._sitemaps_requested.add(self.scope_rules.canonical(request.url))
            yield request.replace(errback=self.on_error, meta={"discovered_via": "sitemap"})
        for url, source in self.discovery_urls():
            callback = self.parse_feed if source == "feed" else self.parse_page
            yield Request(url, callback, errback=self.on_error, meta={"discovered_via": source})
        session = self.crawler.get_extension(ArchiveSession)
        if session is not None and session.ledger is not None:
            now = datetime.now(UTC)
            for url in session.ledger.due_urls(now, session.policy):
                if self.in_scope(url):
                    self.crawler.stats.inc_value("discovery/ledger_rechecks")
                    yield Request(
                        url,
                        self.parse_page,
                        errback=self.on_error,
                        priority=-1,  # after discovery, which may bring a fresher lastmod
                        meta={"discovered_via": "ledger", ARTICLE_EXPECTED: True},
                    )

    def _parse_sitemap(self, response: Response):
        # Scrapy's SitemapSpider._parse_sitemap, made safe against hostile sitemaps (crawler.sitemaps).
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                yield from self._sitemap_request(url, response.url)
            return
        body, too_large = sitemap_body(response, self.sitemap_limits)
        reader, refusal = None, ("xml-too-large", too_large) if too_large else None
        if body is not None and (dtd := dtd_refusal(body)):
            refusal = ("xml-entities", dtd)
        if refusal is None and body is not None:
            reader, unreadable = open_sitemap(body, self.sitemap_limits)
            refusal = ("xml-malformed", unreadable) if unreadable else None
        if refusal is not None:
            case, reason = refusal
            record = response.meta.get(RESPONSE_RECORD)
            record_case(self.crawler, case, response.url, reason, warc_record=record)
            return
        if reader is None or reader.type not in ("sitemapindex", "urlset"):
            logger.warning("Ignoring invalid sitemap: %s", response)
            return
        if reader.type == "sitemapindex":
            for loc in iterloc(reader, self.sitemap_alternate_links):
                if any(x.search(loc) for x in self._follow):
                    yield from self._sitemap_request(loc, response.url)
        else:
            for entry in self.sitemap_filter(reader):
                for loc in iterloc([entry], self.sitemap_alternate_links):
                    callback = next((c for r, c in self._cbs if r.search(loc)), None)
                    if callback is not None:
                        meta = {
                            "discovered_via": "sitemap",
                            "sitemap_lastmod": self.sitemap_lastmod.get(loc),
                            ARTICLE_EXPECTED: True,
                        }
                        yield Request(loc, callback, errback=self.on_error, meta=meta)
        self._sitemap_problems(response.url, reader)

    def _sitemap_request(self, url: str, listed_by: str):
        if not self.in_scope(url):
            reason = f"listed by {listed_by}, on another host: not fetched"
            record_case(self.crawler, "sitemap-offsite", url, reason)
            return
        key = self.scope_rules.canonical(url)
        if key in self._sitemaps_requested:
            record_case(
                self.crawler, "sitemap-loop", url, f"listed again by {listed_by}: not read twice"
            )
            return
        self._sitemaps_requested.add(key)
        yield Request(
            url, self._parse_sitemap, errback=self.on_error, meta={"discovered_via": "sitemap"}
        )

    def _sitemap_problems(self, url: str, reader) -> None:
        """One event per problem of a sitemap once it is read, however many entries it touched."""
        if reader.errors:
            reason = f"{len(reader.errors)} XML errors, {reader.read} URLs read despite them; first: {reader.errors[0]}"
            record_case(self.crawler, "xml-malformed", url, reason)
        if reader.dropped:
            total, limit = reader.read + reader.dropped, self.sitemap_limits.max_urls
            reason = f"{total} URLs: the first {limit} kept (ARCHIVE_SITEMAP_MAX_URLS), {reader.dropped} dropped"
            record_case(self.crawler, "sitemap-url-limit", url, reason)
        if reader.bad_lastmods:
            examples = ", ".join(repr(v[:40]) for v in reader.bad_lastmods[:3])
            reason = f"{len(reader.bad_lastmods)} lastmod values are not W3C datetimes, ignored: {examples}"
            record_case(self.crawler, "sitemap-bad-lastmod", url, reason)

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
        if refusal := dtd_refusal(response.body):
            record = response.meta.get(RESPONSE_RECORD)
            record_case(self.crawler, "xml-entities", response.url, refusal, warc_record=record)
            return
        for link in response.xpath(
            "//item/link/text() | //*[local-name()='entry']/*[local-name()='link']/@href"
        ).getall():
            url = response.urljoin(link.strip())
            if self.in_scope(url):
                self.crawler.stats.inc_value("discovery/feed_urls")
                meta = {"discovered_via": "feed", ARTICLE_EXPECTED: True}
                yield Request(url, self.parse_page, errback=self.on_error, meta=meta)

    # --- pages ---------------------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.netloc.lower() in self.scope

    def is_article(self, url: str, page: PageOutline) -> bool:
        """True for a single post; listings, tag, author and static pages are not articles."""
        if is_listing(url):
            return False
        if "single-post" in page.body_classes or page.og_type == "article":
            return True
        for raw in page.ld_json:
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
        if response.status == 200 and (problem := self.page_guard.inspect(response)):
            # Archived as received; flagged, and neither read nor followed.
            case, reason = problem
            record_case(
                self.crawler,
                case,
                response.url,
                reason,
                warc_record=response.meta.get(RESPONSE_RECORD),
            )
            return
        if self._redirected_home(response):
            return
        # Requisites are read only where they may be fetched: a listing is never an article.
        page = PageOutline.read(
            response,
            srcset_limit=self.srcset_limit,
            resources=self.fetch_resources and not is_listing(response.url),
        )
        if self.is_article(response.url, page):
            item = self.article_item(response, via, page)
            if item is not None:
                yield item
            if self.fetch_resources:
                yield from self.resource_requests(page)
        if self.follow_links:
            yield from self.link_requests(page)
        for href in page.feeds:
            url = page.absolute(href)
            if self.in_scope(url):
                yield Request(
                    url, self.parse_feed, errback=self.on_error, meta={"discovered_via": "feed"}
                )

    def article_item(
        self, response: Response, via: str, page: PageOutline | None = None
    ) -> ArticlePage | None:
        """The item for an archived article; ``page`` is None for a recheck answered 304."""

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
            fetched=(started or datetime.now(UTC)).isoformat(),
            discovered_via=via,
            warc_record=response.meta.get(RESPONSE_RECORD),
            sitemap_lastmod=self.sitemap_lastmod.get(response.url),
            capture_kind=kind,
            etag=header("ETag"),
            last_modified=header("Last-Modified"),
            known=response.meta.get(LEDGER_STATE) is not None,
            requested_url=(response.meta.get("redirect_urls") or [None])[0],
            site=self.site_name if self.in_scope(response.url) else None,
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

    def resource_requests(self, page: PageOutline):
        return self._resource_requests(page.absolute(ref) for ref in page.resources)

    def _resource_requests(self, urls: Iterable[str]):
        for url in urls:
            if urlsplit(url).scheme in ("http", "https"):
                self.crawler.stats.inc_value("discovery/resources")
                yield Request(
                    url,
                    self.parse_resource,
                    errback=self.on_error,
                    priority=1,  # finish a page's requisites before moving on
                    meta={"discovered_via": "resource"},
                )

    def link_requests(self, page: PageOutline):
        # Pages repeat the same ~100 menu, sidebar and related links: dropping the ones already
        # followed before building a Request was most of the crawler's CPU (docs/benchmarks).
        # A third of a news page's hrefs repeat one already on it (header, footer): each is
        # resolved once. Most of the rest repeat one of an earlier page (menus, sidebars, off-site
        # links); those whose resolution depends on the origin alone ("/path", "https://...") are
        # not resolved again, since their answer (followed, or out of scope) cannot change.
        linked, handled = self._linked, self._handled_hrefs
        base = urlsplit(page.base_url)
        origin = (base.scheme, base.netloc)
        for href in dict.fromkeys(page.links):
            key = None
            if (href[:1] == "/" and href[1:2] != "/") or href.startswith(("http://", "https://")):
                key = (origin, href)
                if key in handled:
                    continue
                if len(handled) >= HANDLED_HREFS_LIMIT:
                    handled.clear()
                handled.add(key)
            url = page.absolute(href).split("#", 1)[0]
            if url in linked or not self.in_scope(url):
                continue
            linked.add(url)
            yield Request(
                url, self.parse_page, errback=self.on_error, meta={"discovered_via": "link"}
            )

    def parse_resource(self, response: Response):
        """A stylesheet's fonts, images and imports, and a framed page's own requisites."""
        if not isinstance(response, TextResponse) or response.status != 200:
            return ()
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").lower()
        if content_type.startswith("text/css"):
            refs = css_urls(response.text)
            return self._resource_requests(response.urljoin(ref.strip()) for ref in refs)
        if content_type.startswith(("text/html", "application/xhtml+xml")):
            return self.resource_requests(
                PageOutline.read(response, srcset_limit=self.srcset_limit)
            )
        return ()

    # --- failures: every one gets a logged outcome ---------------------------------------------

    def _cut_short_by_the_stop(self, failure: Failure) -> bool:
        """A download that failed while the crawl stops (the stop cancels downloads in flight):
        in a distributed run it stays in flight, for the run's other workers to requeue."""
        if failure.check(HttpError, IgnoreRequest, NotDue):
            return False  # an answer, or a decision: final whenever it came
        watchdog = self.crawler.get_extension(Watchdog)
        return watchdog is not None and watchdog.stopped

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        run = self.crawler.get_extension(DistributedRun)
        if run is not None and not self._cut_short_by_the_stop(failure):
            run.finished(request)  # its failure is logged below: nothing left to do for it
        if failure.check(NotDue):
            return  # counted by the incremental middleware; nothing went wrong
        session = self.crawler.get_extension(ArchiveSession)
        if failure.check(HttpError):
            response = failure.value.response
            kind, reason = "http-error", f"HTTP {response.status}"
            known = (
                session is not None
                and session.ledger is not None
                and session.ledger.get(request.url)
            )
            if response.status in (404, 410) and known:
                self.mark_gone(request.url, reason)
                return
        elif failure.check(IgnoreRequest):
            kind, reason = "skipped", str(failure.value) or "ignored"
        else:
            kind, reason = "request-failed", f"{failure.type.__name__}: {failure.value}"
        details = {}
        if hostile := failure_case(failure):
            # The same one event, named after the hostile case and saying what was done about it.
            case, reason = hostile
            details["case"] = case
            details.update(getattr(failure.value, "details", {}))
            note_case(self.crawler, case, request.url, reason)
            # Only a response that is itself the problem is flagged: after a redirect the meta
            # still names the record of the previous hop.
            record = request.meta.get(RESPONSE_RECORD) if case in RESPONSE_CASES else None
            if session is not None and record:
                # The flag is about the archived response: for an off-site redirect, the redirect.
                flagged = (
                    request.meta["redirect_urls"][-1] if case == "redirect-offsite" else request.url
                )
                flag_record(
                    session, flagged, record["record_id"], {"hostile-case": case, "reason": reason}
                )
        self.crawler.stats.inc_value(f"outcome/{kind}")
        if session is not None:
            session.log_event(kind, request.url, reason, **details)
        else:
            logger.warning("%s %s: %s", kind, request.url, reason)
