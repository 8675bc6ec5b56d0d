"""Duplicate filter that tells when redirects loop back to a URL of their own chain.

Scrapy drops such redirects silently (the loop a -> b -> a ends with no callback, no errback and
nothing above DEBUG); here each one becomes an event in the crawl log, with its redirect chain.
"""

from __future__ import annotations

from scrapy.dupefilters import RFPDupeFilter

from pipelines.archive_session import ArchiveSession


class RedirectAwareDupeFilter(RFPDupeFilter):
    """Scrapy's fingerprint filter, plus an event for every redirect loop it cuts."""

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
        if request.url not in chain:
            # An old URL redirecting to a page already fetched: expected, counted, not a problem.
            self.crawler.stats.inc_value("dupefilter/redirect_to_known_url")
            return
        self.crawler.stats.inc_value("outcome/redirect-loop")
        session = self.crawler.get_extension(ArchiveSession)
        if session is not None:
            session.log_event(
                "redirect-loop",
                chain[0],
                f"redirects lead back to {request.url}",
                redirect_chain=[*chain, request.url],
            )
