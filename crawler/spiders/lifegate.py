"""The main job: archive lifegate.it (``-a site=com`` for lifegate.com, ``-a base_url=`` for a mirror
or the local fixture site)."""

from __future__ import annotations

from typing import Any

from crawler.spiders.archive_spider import ArchiveSpider, site_name


class LifegateSpider(ArchiveSpider):
    """Every article of one lifegate site, found through robots.txt, sitemaps, the feed and listings."""

    name = "lifegate"

    def __init__(self, site: str = "it", base_url: str | None = None, *args: Any, **kwargs: Any):
        self.site = site
        super().__init__(base_url or "https://invalid.invalid", *args, **kwargs)
        self._explicit_base = base_url is not None

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        sites = crawler.settings.getdict("LIFEGATE_SITES")
        site = kwargs.get("site", "it")
        if not kwargs.get("base_url"):
            if site not in sites:
                raise ValueError(f"unknown site {site!r}; LIFEGATE_SITES has {sorted(sites)}")
            kwargs["base_url"] = sites[site]
        spider = super().from_crawler(crawler, *args, **kwargs)
        if site in sites:
            spider.site_name = site_name(sites[site])
        return spider
