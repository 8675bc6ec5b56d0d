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

from archive.rewrite import candidate_width, css_urls, srcset_candidates


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
        # What a browser also asks for: lazy images once their script has run, frames, posters.
        "img::attr(data-src), img::attr(data-lazy-src)",
        "iframe::attr(src), embed::attr(src), video::attr(poster)",
        "link[rel~=preload]::attr(href)",
    )
)
# Image candidates: the browser picks one by viewport and density, so any may be asked for.
_SRCSETS = _query(
    "img::attr(srcset), img::attr(data-srcset), source::attr(srcset), source::attr(data-srcset),"
    " link::attr(imagesrcset)"
)
# CSS inside the page: background images and fonts named by <style> blocks and style attributes.
_INLINE_CSS = _query("style::text, [style]::attr(style)")
_FEEDS = _query(
    'link[rel=alternate][type="application/rss+xml"]::attr(href),'
    ' link[rel=alternate][type="application/atom+xml"]::attr(href)'
)
_BODY_CLASS = _query("body::attr(class)")
_OG_TYPE = _query('meta[property="og:type"]::attr(content)')
_LD_JSON = _query('script[type="application/ld+json"]::text')


def bounded(srcset: str, limit: int) -> list[str]:
    """The URLs of a srcset's candidates; past ``limit``, an even spread from smallest to largest."""
    candidates = srcset_candidates(srcset)
    if limit <= 0 or len(candidates) <= limit:
        return [url for url, _ in candidates]
    ordered = sorted(candidates, key=lambda c: candidate_width(c[1]))
    if limit == 1:
        return [ordered[-1][0]]
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)][0] for i in range(limit)]


def _unique(urls: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in urls if u.strip()))


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
    def read(cls, response: TextResponse, *, srcset_limit: int = 0) -> PageOutline:
        """The outline of ``response``; ``srcset_limit`` (0: no limit) bounds each srcset."""
        # Scrapy's Selector parses exactly as response.css would (encoding, NUL bytes, huge trees),
        # but is not cached on the response.
        root = Selector(response=response).root
        body_class = _BODY_CLASS(root)
        og_type = _OG_TYPE(root)
        return cls(
            base_url=get_base_url(response),
            links=tuple(_LINKS(root)),
            body_links=tuple(_BODY_LINKS(root)),
            resources=_unique(
                [url for query in _RESOURCES for url in query(root)]
                + [url for value in _SRCSETS(root) for url in bounded(value, srcset_limit)]
                + [url for css in _INLINE_CSS(root) for url in css_urls(css)]
            ),
            feeds=tuple(_FEEDS(root)),
            body_classes=frozenset(body_class[0].split()) if body_class else frozenset(),
            og_type=og_type[0] if og_type else "",
            ld_json=tuple(_LD_JSON(root)),
        )
