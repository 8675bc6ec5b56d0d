"""Scrapy fetch alone: a minimal spider that follows the links the archive spider follows (robots.txt
sitemaps, the feed, ``a[href]``, an article's resources) and does nothing else: no WARC, no extraction.

    python -m bench.minimal_spider BASE_URL [-s NAME=VALUE ...]

Prints Scrapy's final stats as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import TextResponse

_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>")
_SITEMAP = re.compile(r"(?im)^sitemap:\s*(\S+)")
_FEED_LINK = re.compile(r"<link>\s*([^<\s]+)\s*</link>")
RESOURCES = ("link[rel~=stylesheet]::attr(href)", "script[src]::attr(src)", "img::attr(src)",
             "link[rel~=icon]::attr(href)")


class MinimalSpider(scrapy.Spider):
    """Follows in-scope links with CSS selectors: the least a Scrapy crawl of this site must do."""

    name = "minimal"

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.netloc = urlsplit(self.base_url).netloc

    async def start(self):
        yield scrapy.Request(self.base_url + "/robots.txt", self.parse_text)
        yield scrapy.Request(self.base_url + "/feed", self.parse_text)
        yield scrapy.Request(self.base_url + "/", self.parse)

    def in_scope(self, url: str) -> bool:
        return urlsplit(url).netloc == self.netloc

    def parse_text(self, response):
        """robots.txt, sitemaps and feeds: read URLs with regular expressions."""
        text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        for url in _SITEMAP.findall(text) + _LOC.findall(text):
            if self.in_scope(url):
                callback = self.parse_text if url.endswith(".xml") else self.parse
                yield scrapy.Request(url, callback)
        for url in _FEED_LINK.findall(text):
            if self.in_scope(url):
                yield scrapy.Request(url, self.parse)

    def parse(self, response):
        if not isinstance(response, TextResponse):
            return
        if "single-post" in (response.css("body::attr(class)").get() or ""):
            for selector in RESOURCES:
                for ref in response.css(selector).getall():
                    yield response.follow(ref, self.parse_resource, priority=1)
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href).split("#", 1)[0]
            if self.in_scope(url):
                yield scrapy.Request(url, self.parse)

    def parse_resource(self, response):
        return ()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    # The pipeline's own fetch settings (crawler/settings.py, --no-throttle), minus its components.
    settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "ROBOTSTXT_OBEY": True, "COOKIES_ENABLED": False, "DEPTH_PRIORITY": 1,
        "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "CONCURRENT_ITEMS": 16,
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False, "DOWNLOAD_FAIL_ON_DATALOSS": False,
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "EXTENSIONS": {"scrapy.extensions.logstats.LogStats": None},
    }
    for pair in args.set:
        name, _, value = pair.partition("=")
        settings[name] = value
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(MinimalSpider)
    process.crawl(crawler, base_url=args.base_url)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    print(json.dumps(stats))
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
