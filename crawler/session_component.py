"""Base of the crawler components that work through the crawl's archive session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured

from pipelines.archive_session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class SessionComponent:
    """A middleware that works through the crawl's ``ArchiveSession``.

    Built directly, it takes the crawl's stats and, optionally, an open session. Built by Scrapy
    (``from_crawler``), it finds the ``ArchiveSession`` extension when the spider opens; until then
    ``self.session`` is None. Subclasses take their settings as plain values in ``__init__`` and
    read them in ``from_crawler``, which ends with :meth:`attach`.
    """

    def __init__(self, stats, session: ArchiveSession | None = None) -> None:
        self.stats = stats
        self.session = session
        # Set by attach(): the running crawl, for its engine and extensions.
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler) -> Self:
        return cls(crawler.stats).attach(crawler)

    def attach(self, crawler) -> Self:
        """Take the crawl's session when its spider opens."""
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        return self

    def spider_opened(self, spider) -> None:
        assert self.crawler is not None
        session = self.crawler.get_extension(ArchiveSession)
        if session is None:
            raise NotConfigured(f"{type(self).__name__} needs the ArchiveSession extension")
        session.open(spider.name)
        self.session = session
