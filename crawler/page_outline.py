"""What the spiders read from an HTML page, read in one pass: its links, requisites, feeds and the
markers that say whether it is an article.

Reading through ``response.css`` caches the page's lxml tree on the response (about 2 MB for a
~120 KB news page) for as long as Scrapy keeps the response, which is while it works through every
request the callback yields; with dozens of pages in the scraper at once, those trees were a third
of the crawler's memory (docs/benchmarks). Here the tree lives only inside ``PageOutline.read``,
and the queries are compiled once and return plain strings (lxml's default "smart" strings would
each keep the whole tree alive).

Each query walks the whole tree (~0.2 ms on a ~170 KB news page, as much as the links query), so
the markers are read in one walk, and the requisites' queries run only when the caller will fetch
them (docs/benchmarks/crawl-profile.md).
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
# Feeds, the body's classes, og:type and JSON-LD: the elements that hold them, in one walk.
_MARKER_ELEMENTS = etree.XPath(
    "descendant-or-self::*[self::link or self::body or self::meta or self::script]"
)
_FEED_TYPES = frozenset(("application/rss+xml", "application/atom+xml"))
_TEXT = etree.XPath("text()", smart_strings=False)


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
    def read(
        cls, response: TextResponse, *, srcset_limit: int = 0, resources: bool = True
    ) -> PageOutline:
        """The outline of ``response``; ``srcset_limit`` (0: no limit) bounds each srcset.

        With ``resources`` False, the page's requisites are not read (``resources`` is empty).
        """
        # Scrapy's Selector parses exactly as response.css would (encoding, NUL bytes, huge trees),
        # but is not cached on the response.
        root = Selector(response=response).root
        feeds: list[str] = []
        ld_json: list[str] = []
        body_class: str | None = None
        og_type: str | None = None
        for element in _MARKER_ELEMENTS(root):
            tag, attrib = element.tag, element.attrib
            if tag == "link":
                href = attrib.get("href")
                feed = attrib.get("rel") == "alternate" and attrib.get("type") in _FEED_TYPES
                if href is not None and feed:
                    feeds.append(href)
            elif tag == "script":
                if attrib.get("type") == "application/ld+json":
                    ld_json.extend(_TEXT(element))
            elif tag == "meta":
                if og_type is None and attrib.get("property") == "og:type":
                    og_type = attrib.get("content")
            elif body_class is None:
                body_class = attrib.get("class")
        return cls(
            base_url=get_base_url(response),
            links=tuple(_LINKS(root)),
            body_links=tuple(_BODY_LINKS(root)),
            resources=_unique(
                [url for query in _RESOURCES for url in query(root)]
                + [url for value in _SRCSETS(root) for url in bounded(value, srcset_limit)]
                + [url for css in _INLINE_CSS(root) for url in css_urls(css)]
            )
            if resources
            else (),
            feeds=tuple(feeds),
            body_classes=frozenset(body_class.split()) if body_class else frozenset(),
            og_type=og_type or "",
            ld_json=tuple(ld_json),
        )
