"""The order of the crawl's frontier: articles fed to extraction as it can take them, everything
else fetched in between (``SCHEDULER_PRIORITY_QUEUE``, ``ARCHIVE_ARTICLES_IN_FLIGHT``).

By priority alone a crawl fetches the sitemaps' articles first (they are all known within a second)
and the listings, archives, redirects and requisites after. The first phase is bound by extraction
and the second by the reactor thread, so each leaves a core idle; on the 2,000-article benchmark
site the pipeline spent ~12 s with its extraction workers idle (docs/benchmarks). This queue keeps
the requests expected to be articles apart and hands one out only while few articles are between
download and extracted text; otherwise the next of the other requests. Within each kind, Scrapy's
priorities and order hold. With extraction off, the two are merged by priority as one queue.

Each priority's requests wait in a ``CompactFifoMemoryQueue`` (``SCHEDULER_MEMORY_QUEUE``): a
sitemap names every article at once, and as ``Request`` objects (with their headers, fingerprint
cache and reference-tracking entries) 10,000 queued articles held ~15 MB more at the crawl's peak
than a 2,000-article crawl's. Held as a URL, two method names and a pickled remainder shared by all
requests alike, they take a sixth of that (docs/benchmarks/crawl-profile.md). With ``JOBDIR``,
Scrapy's disk queues hold them as before.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from scrapy import Request
from scrapy.pqueues import ScrapyPriorityQueue

from pipelines.extractor_config import extraction_workers

# Request meta: the spider expects an article here (a sitemap or feed entry, a ledger recheck).
ARTICLE_EXPECTED = "article_expected"
ARTICLES = "articles"

# The request attributes a compact entry keeps in its pickled remainder.
_REST = (
    "method",
    "headers",
    "body",
    "cookies",
    "meta",
    "encoding",
    "priority",
    "dont_filter",
    "flags",
    "cb_kwargs",
)
# Scrapy creates these on first read; reading the unset value keeps an empty one from being built
# (an empty ``Headers`` costs more than the rest of packing a request).
_LAZY = frozenset(("headers", "cookies", "meta", "flags", "cb_kwargs"))
_UNSET = object()
# Remainders shared between entries: requests from one page and kind differ only by URL.
_SHARED_LIMIT = 4096


def _value(request: Request, attr: str) -> Any:
    value: Any = getattr(request, f"_{attr}", _UNSET) if attr in _LAZY else _UNSET
    if value is _UNSET:
        value = getattr(request, attr)
    return dict(value) if attr == "headers" and value is not None else value


class CompactFifoMemoryQueue:
    """A FIFO of requests held compactly: URL, callback and errback names, pickled remainder.

    A request it cannot rebuild exactly (a callback that is not a method of the spider, a subclass
    of ``Request``, meta that does not pickle) is kept as it is.
    """

    _shared: ClassVar[dict[bytes, bytes]] = {}

    def __init__(self, crawler=None, *args: Any) -> None:
        self.spider = getattr(crawler, "spider", None)
        self._entries: deque[Any] = deque()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> CompactFifoMemoryQueue:
        return cls(crawler)

    def _method_name(self, func: Callable | None) -> str | None:
        if func is None:
            return None
        name = getattr(func, "__name__", None)
        if name is None or self.spider is None or getattr(self.spider, name, None) != func:
            raise ValueError(f"{func!r} is not a method of the spider")
        return name

    def _pack(self, request: Request) -> Any:
        if type(request) is not Request:
            return request
        try:
            callback = self._method_name(request.callback)
            errback = self._method_name(request.errback)
            rest = pickle.dumps(
                tuple(_value(request, attr) for attr in _REST), protocol=pickle.HIGHEST_PROTOCOL
            )
        except (ValueError, TypeError, AttributeError, pickle.PicklingError):
            return request
        shared = self._shared
        if len(shared) >= _SHARED_LIMIT:
            shared.clear()
        return (request.url, callback, errback, shared.setdefault(rest, rest))

    def _unpack(self, entry: Any) -> Request:
        if not isinstance(entry, tuple):
            return entry
        url, callback, errback, rest = entry
        spider = self.spider
        return Request(
            url,
            callback=getattr(spider, callback) if callback else None,
            errback=getattr(spider, errback) if errback else None,
            **dict(zip(_REST, pickle.loads(rest), strict=True)),
        )

    def push(self, request: Request) -> None:
        self._entries.append(self._pack(request))

    def pop(self) -> Request | None:
        return self._unpack(self._entries.popleft()) if self._entries else None

    def peek(self) -> Request | None:
        return self._unpack(self._entries[0]) if self._entries else None

    def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class ExtractionPacedPriorityQueue:
    """Two Scrapy priority queues, expected articles and the rest, drawn by the extraction backlog."""

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> ExtractionPacedPriorityQueue:
        # The signature of ScrapyPriorityQueue.from_crawler: (crawler, downstream_queue_cls, key,
        # startprios=(), *, start_queue_cls=None).
        return cls(crawler, *args, **kwargs)

    def __init__(
        self,
        crawler,
        downstream_queue_cls: type,
        key: str,
        startprios: Iterable[int] | dict[str, Any] = (),
        *,
        start_queue_cls: type | None = None,
    ) -> None:
        # A JOBDIR written by Scrapy's own queue holds a list of priorities: its requests are the
        # "other" queue's, which keeps Scrapy's folder layout; articles get a subfolder.
        saved = startprios if isinstance(startprios, dict) else {"other": list(startprios)}
        self.crawler = crawler
        self.other = ScrapyPriorityQueue(
            crawler,
            downstream_queue_cls,
            key,
            saved.get("other", ()),
            start_queue_cls=start_queue_cls,
        )
        self.articles = ScrapyPriorityQueue(
            crawler,
            downstream_queue_cls,
            f"{key}/{ARTICLES}" if key else key,
            saved.get(ARTICLES, ()),
            start_queue_cls=start_queue_cls,
        )
        settings = crawler.settings
        self.paced = settings.getbool("EXTRACT_ENABLED")
        self.in_flight_limit = settings.getint(
            "ARCHIVE_ARTICLES_IN_FLIGHT"
        ) or 4 * extraction_workers(settings)

    def push(self, request: Request) -> None:
        (self.articles if request.meta.get(ARTICLE_EXPECTED) else self.other).push(request)

    def articles_in_flight(self) -> int:
        """Expected articles being downloaded, or waiting for or in the spider and the pipelines."""
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        slot = getattr(getattr(engine, "scraper", None), "slot", None)
        requests: list[Request] = list(getattr(downloader, "active", ()))
        if slot is not None:
            requests += slot.active
            requests += [request for _, request, _ in slot.queue]
        return sum(1 for request in requests if request.meta.get(ARTICLE_EXPECTED))

    def _next_queue(self) -> ScrapyPriorityQueue:
        if not self.articles:
            return self.other
        if not self.other:
            return self.articles
        if not self.paced:
            # Lower numbers are higher priorities (ScrapyPriorityQueue.priority); a queue holding
            # requests always has a current priority.
            articles, other = self.articles.curprio, self.other.curprio
            assert articles is not None and other is not None
            return self.articles if articles <= other else self.other
        return self.articles if self.articles_in_flight() < self.in_flight_limit else self.other

    def pop(self) -> Request | None:
        return self._next_queue().pop()

    def peek(self) -> Request | None:
        return self._next_queue().peek()

    def close(self) -> dict[str, Any]:
        return {"other": self.other.close(), ARTICLES: self.articles.close()}

    def __len__(self) -> int:
        return len(self.other) + len(self.articles)
