"""Third-party republications of lifegate articles (translations): archive the republisher's pages
and keep as articles only those that credit a lifegate article, recording which one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crawler.items import ArticlePage
from crawler.page_outline import PageOutline
from crawler.spiders.archive_spider import ArchiveSpider, site_name


class RepublicationSpider(ArchiveSpider):
    """A republisher's site (``-a republisher=gratisforgratis`` or ``-a base_url=``).

    ``lifegate_base_urls`` (comma-separated) adds hosts whose links count as a lifegate credit,
    besides ``LIFEGATE_HOSTS``; the local fixture site uses it.
    """

    name = "republications"

    lifegate_hosts: set[str]  # set by from_crawler: LIFEGATE_HOSTS and lifegate_base_urls' hosts

    def __init__(
        self,
        base_url: str,
        republisher: str = "",
        lifegate_base_urls: str = "",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, *args, **kwargs)
        self.republisher = republisher
        self.extra_lifegate_hosts = {
            urlsplit(u.strip()).netloc.lower() for u in lifegate_base_urls.split(",") if u.strip()
        }

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        republishers = crawler.settings.getdict("LIFEGATE_REPUBLISHERS")
        name = kwargs.get("republisher") or "gratisforgratis"
        if not kwargs.get("base_url"):
            if name not in republishers:
                raise ValueError(
                    f"unknown republisher {name!r}; LIFEGATE_REPUBLISHERS has {sorted(republishers)}"
                )
            kwargs["base_url"] = republishers[name]
        spider = super().from_crawler(crawler, *args, **kwargs)
        if name in republishers:
            spider.site_name = site_name(republishers[name])
        spider.lifegate_hosts = {
            h.lower() for h in crawler.settings.getlist("LIFEGATE_HOSTS")
        } | spider.extra_lifegate_hosts
        return spider

    def credited_lifegate_url(self, page: PageOutline | None) -> str | None:
        """The lifegate article this page credits: a link to a lifegate host from the page body."""
        if page is None:
            return None
        for href in page.body_links or page.links:
            url = page.absolute(href)
            parts = urlsplit(url)
            if parts.netloc.lower() in self.lifegate_hosts and parts.path.strip("/"):
                return url
        return None

    def article_item(
        self, response, via: str, page: PageOutline | None = None
    ) -> ArticlePage | None:
        credited = self.credited_lifegate_url(page)
        if credited is None:
            self.crawler.stats.inc_value("republications/not_crediting_lifegate")
            return None
        item = super().article_item(response, via, page)
        if item is None:
            return None
        item.translation_of = credited
        self.crawler.stats.inc_value("republications/crediting_lifegate")
        return item

    def discovery_urls(self):
        # Feeds are found from the pages' <link rel=alternate>: republishers lay them out freely.
        yield f"{self.base_url}/", "listing"
