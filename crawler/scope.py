"""Scope rules against crawler traps, and URL canonicalization for deduplication (``ARCHIVE_SCOPE_*``).

The rules live in one place, ``ScopeRules``: link hops from a seed, URL length, repeated path
segments, and the session and tracking parameters ignored when telling two URLs apart. URLs are
archived as requested; only deduplication sees the canonical form.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.utils.request import fingerprint
from w3lib.url import canonicalize_url, url_query_cleaner

from crawler.hostile import HostileRefusal, count_case


@dataclass(frozen=True, slots=True)
class ScopeRules:
    """What a URL may look like before it is fetched, and which query parameters never matter."""

    max_hops: int = 30
    max_url_length: int = 2048
    max_segment_repeats: int = 2
    ignored_params: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> ScopeRules:
        return cls(
            max_hops=settings.getint("ARCHIVE_SCOPE_MAX_HOPS"),
            max_url_length=settings.getint("ARCHIVE_SCOPE_MAX_URL_LENGTH"),
            max_segment_repeats=settings.getint("ARCHIVE_SCOPE_MAX_SEGMENT_REPEATS"),
            ignored_params=tuple(
                p.lower() for p in settings.getlist("ARCHIVE_SCOPE_IGNORED_PARAMS")
            ),
        )

    def ignored_in(self, url: str) -> list[str]:
        """The query parameters of ``url`` that ARCHIVE_SCOPE_IGNORED_PARAMS names (``*`` patterns)."""
        names = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        return sorted(
            n for n in names if any(fnmatch.fnmatchcase(n.lower(), p) for p in self.ignored_params)
        )

    def canonical(self, url: str) -> str:
        """The form two URLs share when they name the same page: w3lib's canonical URL (IDNA host,
        normalised percent-encoding, sorted query, no fragment) without the ignored parameters."""
        ignored = self.ignored_in(url)
        if ignored:
            url = url_query_cleaner(url, ignored, remove=True, unique=False, keep_fragments=False)
        return canonicalize_url(url)

    def refusal(self, url: str, hops: int) -> tuple[str, str] | None:
        """(case, reason) when ``url``, reached after ``hops`` links, looks like a trap; else None."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "unsupported-scheme", f"{parts.scheme}: URLs are not fetched"
        if self.max_url_length and len(url) > self.max_url_length:
            return (
                "trap-url-length",
                f"URL of {len(url)} characters (ARCHIVE_SCOPE_MAX_URL_LENGTH={self.max_url_length})",
            )
        segments = Counter(s for s in parts.path.split("/") if s)
        if segments and self.max_segment_repeats:
            segment, repeats = segments.most_common(1)[0]
            if repeats > self.max_segment_repeats:
                return "trap-repeated-segments", (
                    f"path segment {segment[:40]!r} repeats {repeats} times "
                    f"(ARCHIVE_SCOPE_MAX_SEGMENT_REPEATS={self.max_segment_repeats})"
                )
        if self.max_hops and hops > self.max_hops:
            return (
                "trap-link-depth",
                f"{hops} links from a seed (ARCHIVE_SCOPE_MAX_HOPS={self.max_hops})",
            )
        return None


class CanonicalRequestFingerprinter:
    """Scrapy's request fingerprint, taken on the canonical URL (``REQUEST_FINGERPRINTER_CLASS``).

    So ``/a?utm_source=x#top``, ``/a?sid=1`` and ``/a`` are fetched once, whichever comes first.
    """

    def __init__(self, rules: ScopeRules) -> None:
        self.rules = rules
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler) -> CanonicalRequestFingerprinter:
        return cls(ScopeRules.from_settings(crawler.settings))

    def fingerprint(self, request: Request) -> bytes:
        if request not in self._cache:
            canonical = self.rules.canonical(request.url)
            self._cache[request] = fingerprint(
                request if canonical == request.url else request.replace(url=canonical)
            )
        return self._cache[request]


class ScopeMiddleware:
    """Downloader middleware, before robots.txt (100): refuses trap URLs and redirects out of scope.

    Redirected pages must stay within the spider's scope (``spider.in_scope``); page resources
    (``discovered_via == "resource"``) may come from any host, as CDNs serve them.
    """

    def __init__(
        self, rules: ScopeRules, stats, in_scope: Callable[[str], bool] | None = None
    ) -> None:
        self.rules = rules
        self.stats = stats
        # Where redirects may lead; None: anywhere (no spider scope to keep to).
        self.in_scope = in_scope

    @classmethod
    def from_crawler(cls, crawler) -> ScopeMiddleware:
        def spider_scope(url: str) -> bool:
            # Looked up per request: the crawl's spider, whatever it is, decides.
            in_scope = getattr(crawler.spider, "in_scope", None)
            return in_scope is None or in_scope(url)

        return cls(ScopeRules.from_settings(crawler.settings), crawler.stats, spider_scope)

    def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return  # robots.txt itself, fetched for a host already in scope
        refused = self.rules.refusal(request.url, request.meta.get("depth", 0))
        chain = request.meta.get("redirect_urls")
        if (
            refused is None
            and chain
            and request.meta.get("discovered_via") != "resource"
            and self.in_scope is not None
            and not self.in_scope(request.url)
        ):
            refused = (
                "redirect-offsite",
                f"{chain[-1]} redirects to {request.url}, out of scope: not fetched",
            )
        if refused is not None:
            raise HostileRefusal(*refused)
        if ignored := self.rules.ignored_in(request.url):
            count_case(
                self.stats,
                "tracking-params",
                request.url,
                f"ignored when deduplicating: {', '.join(ignored)}",
            )
