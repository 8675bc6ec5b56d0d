"""What the spiders read from an HTML page, read in one pass: its links, requisites, feeds and the
markers that say whether it is an article.

Reading through ``response.css`` caches the page's lxml tree on the response (about 2 MB for a
~120 KB news page) for as long as Scrapy keeps the response, which is while it works through every
request the callback yields; with dozens of pages in the scraper at once, those trees were a third
of the crawler's memory (docs/benchmarks). Here the tree lives only inside ``PageOutline.read``,
and the queries are compiled once and return plain strings (lxml's default "smart" strings would
each keep the whole tree alive).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree
from parsel import css2xpath
from scrapy import Selector
from scrapy.http import TextResponse
from scrapy.utils.response import get_base_url


def _query(css: str) -> etree.XPath:
    return etree.XPath(css2xpath(css), smart_strings=False)


_LINKS = _query("a::attr(href)")
# Where a republication credits its source: links in the article body first, then anywhere.
_BODY_LINKS = _query("article a::attr(href), main a::attr(href)")
# One query per kind: stylesheets first, then scripts, images and icons.
_RESOURCES = tuple(
    _query(css)
    for css in (
        "link[rel~=stylesheet]::attr(href)",
        "script[src]::attr(src)",
        "img::attr(src)",
        "link[rel~=icon]::attr(href)",
    )
)
_FEEDS = _query(
    'link[rel=alternate][type="application/rss+xml"]::attr(href),'
    ' link[rel=alternate][type="application/atom+xml"]::attr(href)'
)
_BODY_CLASS = _query("body::attr(class)")
_OG_TYPE = _query('meta[property="og:type"]::attr(content)')
_LD_JSON = _query('script[type="application/ld+json"]::text')


@dataclass(frozen=True, slots=True)
class PageOutline:
    """The parts of one HTML page that decide what to fetch next; URLs as written in the page."""

    base_url: str
    links: tuple[str, ...]
    body_links: tuple[str, ...]
    resources: tuple[str, ...]
    feeds: tuple[str, ...]
    body_classes: frozenset[str]
    og_type: str
    ld_json: tuple[str, ...]

    def absolute(self, ref: str) -> str:
        """A URL as written in the page, resolved against the page's base URL."""
        return urljoin(self.base_url, ref.strip())

    @classmethod
    def read(cls, response: TextResponse) -> PageOutline:
        # Scrapy's Selector parses exactly as response.css would (encoding, NUL bytes, huge trees),
        # but is not cached on the response.
        root = Selector(response=response).root
        body_class = _BODY_CLASS(root)
        og_type = _OG_TYPE(root)
        return cls(
            base_url=get_base_url(response),
            links=tuple(_LINKS(root)),
            body_links=tuple(_BODY_LINKS(root)),
            resources=tuple(url for query in _RESOURCES for url in query(root)),
            feeds=tuple(_FEEDS(root)),
            body_classes=frozenset(body_class[0].split()) if body_class else frozenset(),
            og_type=og_type[0] if og_type else "",
            ld_json=tuple(_LD_JSON(root)),
        )
