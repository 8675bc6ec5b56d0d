"""Duplicate filter that tells when a redirect leads back to a URL already requested.

Scrapy drops such redirects silently (the loop a -> b -> a ends with no callback, no errback and
nothing above DEBUG); here each one becomes an event in the crawl log, with its redirect chain.
"""

from __future__ import annotations

from scrapy.dupefilters import RFPDupeFilter

from pipelines.archive_session import ArchiveSession


class RedirectAwareDupeFilter(RFPDupeFilter):
    """Scrapy's fingerprint filter, plus an event for every redirect target it filters."""

    crawler = None

    @classmethod
    def from_crawler(cls, crawler):
        dupefilter = super().from_crawler(crawler)
        dupefilter.crawler = crawler
        return dupefilter

    def log(self, request, spider) -> None:
        super().log(request, spider)
        chain = request.meta.get("redirect_urls")
        if not chain or self.crawler is None:
            return
        self.crawler.stats.inc_value("outcome/redirect-to-seen-url")
        session = self.crawler.get_extension(ArchiveSession)
        if session is not None:
            session.log_event(
                "redirect-to-seen-url",
                chain[0],
                f"redirect to {request.url}, already requested (a loop, or redirects converging)",
                redirect_chain=[*chain, request.url],
            )
