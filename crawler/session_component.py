"""Base of the crawler components that work through the crawl's archive session."""

from __future__ import annotations

from scrapy import signals
from scrapy.exceptions import NotConfigured

from pipelines.archive_session import ArchiveSession


class SessionComponent:
    """A middleware that finds the ``ArchiveSession`` extension when the spider opens.

    Subclasses read their settings in ``__init__`` (calling ``super().__init__(crawler)``) and use
    ``self.session``, which is None until the spider is open.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.session: ArchiveSession | None = None

    @classmethod
    def from_crawler(cls, crawler):
        component = cls(crawler)
        crawler.signals.connect(component.spider_opened, signal=signals.spider_opened)
        return component

    def spider_opened(self, spider) -> None:
        session = self.crawler.get_extension(ArchiveSession)
        if session is None:
            raise NotConfigured(f"{type(self).__name__} needs the ArchiveSession extension")
        session.open(spider.name)
        self.session = session
