"""``scrapy crawl``, exiting non-zero when the crawl did not do its job.

Scrapy's own command exits 0 whenever the spider started, even when the archive failed (finish
reason ``archive-failed``) and nothing was committed. scrapyd and cron judge a job by its process's
exit status, so the plain command fails as ``lifegate-archive crawl`` does, on the same test.
"""

from __future__ import annotations

import argparse
import logging

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler

from crawler.commands.crawl import _failure

logger = logging.getLogger(__name__)


class Command(ScrapyCrawl):
    """Scrapy's ``crawl``; exit status 1 when the crawl's final stats say it failed."""

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawlers.append(crawler)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self._crawlers: list[Crawler] = []
        super().run(args, opts)
        for crawler in self._crawlers:
            stats = crawler.stats.get_stats()
            if cause := _failure(stats):
                logger.error("Crawl failed (%s): exit status 1", cause)
                self.exitcode = self.exitcode or 1
