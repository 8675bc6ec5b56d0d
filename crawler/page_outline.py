"""What the spiders read from an HTML page, read in one pass: its links, requisites, feeds and the
markers that say whether it is an article.

An HTML page is parsed by lexbor (selectolax), about twice as fast as libxml2 through Scrapy's
``Selector``; ``read_with_lxml``, the libxml2 reading, stays the reference: lexbor's outline is
the same strings in the same order, and a page where lexbor's tree would differ (a ``<template>``,
a body class libxml2 drops, ...: see ``read_with_lexbor``) is read by libxml2, as is any response
that is not HTML (docs/benchmarks/crawl-profile.md).

Reading through ``response.css`` caches the page's lxml tree on the response (about 2 MB for a
~120 KB news page) for as long as Scrapy keeps the response, which is while it works through every
request the callback yields; with dozens of pages in the scraper at once, those trees were a third
of the crawler's memory (docs/benchmarks). Here the tree lives only inside the reading, and the
strings returned are plain ``str`` (lxml's default "smart" strings would each keep the whole tree
alive).

Each query walks the whole tree, so the markers are read in one walk, and the requisites' queries
run only when the caller will fetch them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree
from parsel import css2xpath
from scrapy import Selector
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.response import get_base_url
from selectolax.lexbor import LexborHTMLParser, LexborNode

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
_LAZY_SRC = frozenset(("data-src", "data-lazy-src"))
_IMAGE_SRCSET = frozenset(("srcset", "data-srcset"))
_LINK_SRCSET = frozenset(("imagesrcset",))


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
        if isinstance(response, HtmlResponse):
            page = read_with_lexbor(response, srcset_limit=srcset_limit, resources=resources)
            if page is not None:
                return page
        return read_with_lxml(response, srcset_limit=srcset_limit, resources=resources)


def read_with_lxml(
    response: TextResponse, *, srcset_limit: int = 0, resources: bool = True
) -> PageOutline:
    """The outline as libxml2's HTML parser reads the page through Scrapy's ``Selector``: the
    reference, and the reading of every page that is not HTML or that lexbor would read otherwise.
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
    return PageOutline(
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


# Where lexbor's tree differs from libxml2's where the outline looks; such pages are read by
# read_with_lxml. libxml2 reads a <template>'s content as ordinary children (lexbor keeps it out
# of the document) and a <frameset> page's <body> (lexbor has none); lexbor reads a script or
# style inside <svg> or <math> as markup (libxml2: raw text) and an <image> outside <svg> as <img>.
_LEXBOR_ONLY_TAGS = frozenset(("template", "frameset"))
_IMAGE_TAG = re.compile(r"<image[\s/>]", re.IGNORECASE)
_FOREIGN = frozenset(("svg", "math"))
_BODY_TAG = re.compile(r"<body[\s/>]", re.IGNORECASE)
# Possessive throughout, so that a head of ~100 KB of scripts and styles is scanned once, without
# backtracking, whatever it holds (an unclosed quote or script, a long run of attributes).
_ATTRS = r"""(?:[^>"'<]++|"[^"<]*+"|'[^'<]*+')*+>"""
_COMMENT = r"<!--[^-]*+(?:-(?!->)[^-]*+)*+-->"
_HEAD_ITEM = rf"""\s++|{_COMMENT}|</?(?:meta|link|base)\b{_ATTRS}
    |<script\b{_ATTRS}[^<]*+(?:<(?!/script[\s>])[^<]*+)*+</script\s*+>
    |<style\b{_ATTRS}[^<]*+(?:<(?!/style[\s>])[^<]*+)*+</style\s*+>
    |<title\b{_ATTRS}[^<]*+</title\s*+>"""
# What may come before the first ``<body>`` without either parser opening the body itself (libxml2
# does for a <noscript> outside <head>, lexbor for one in it, and both for other elements): the
# doctype, comments, and head elements, <noscript> only inside <head>...</head>.
_BEFORE_BODY = re.compile(
    rf"""(?:\s++|{_COMMENT}|<!doctype[^>]*+>|<\?xml[^>]*+>|<html\b{_ATTRS})*+
    (?:<head\b{_ATTRS}
        (?:{_HEAD_ITEM}
        |<noscript\b{_ATTRS}
            (?:[^<]++|{_COMMENT}|<(?:link|meta|img|iframe)\b{_ATTRS}|</iframe\s*+>
            |<style\b{_ATTRS}[^<]*+</style\s*+>)*+
        </noscript\s*+>)*+
    (?:</head\s*+>)?+)?+
    (?:{_HEAD_ITEM})*+""",
    re.IGNORECASE | re.VERBOSE,
)
# XPath's normalize-space, which cssselect's ``~=`` uses, splits on these four only.
_XML_SPACE = str.maketrans("\t\n\r", "   ")


def _has_token(value: str | None, padded_token: str) -> bool:
    return value is not None and padded_token in f" {value.translate(_XML_SPACE)} "


def read_with_lexbor(
    response: HtmlResponse, *, srcset_limit: int = 0, resources: bool = True
) -> PageOutline | None:
    """The outline as ``read_with_lxml`` reads it, from lexbor's faster parse; None for a page
    that lexbor would read otherwise."""
    markup = response.text.strip().replace("\x00", "")
    try:
        tree = LexborHTMLParser(markup)
    except (RuntimeError, ValueError):
        return None  # libxml2's reading then has the last word, as before lexbor
    feeds: list[str] = []
    ld_json: list[str] = []
    body_class: str | None = None
    og_type: str | None = None
    for node in tree.css("link, body, meta, script, template, frameset"):
        tag, attrs = node.tag, node.attributes
        if tag in _LEXBOR_ONLY_TAGS or (tag == "script" and _has_elements(node)):
            return None
        if tag == "link":
            feed = attrs.get("rel") == "alternate" and attrs.get("type") in _FEED_TYPES
            if feed and "href" in attrs:
                feeds.append(attrs["href"] or "")
        elif tag == "script":
            if attrs.get("type") == "application/ld+json":
                text = node.text(deep=False)
                if text:
                    ld_json.append(text)
        elif tag == "meta":
            if og_type is None and attrs.get("property") == "og:type":
                og_type = attrs.get("content")
        elif body_class is None:
            body_class = attrs.get("class")
    if body_class is not None and body_class != _libxml2_body_class(markup):
        return None
    requisites: list[str] = []
    if resources:
        found = _lexbor_resources(tree, srcset_limit)
        images = _IMAGE_TAG.findall(markup)
        if found is None or (images and len(images) > len(tree.css("image"))):
            return None  # a style read as markup, or an <image> tag that became an <img>
        requisites = found
    return PageOutline(
        base_url=get_base_url(response),
        links=tuple(_values(tree.css("a[href]"), "href")),
        body_links=tuple(_values(_once(tree.css("article a[href], main a[href]")), "href")),
        resources=_unique(requisites) if resources else (),
        feeds=tuple(feeds),
        body_classes=frozenset(body_class.split()) if body_class else frozenset(),
        og_type=og_type or "",
        ld_json=tuple(ld_json),
    )


def _libxml2_body_class(markup: str) -> str | None:
    """The body's class as libxml2 has it, when that is sure; otherwise None.

    A ``<body>`` tag that comes after the body was opened (by content before it, or by another
    ``<body>``) adds its attributes to the body in lexbor, as the HTML standard says; libxml2
    drops them. So lexbor's class is libxml2's only when the first ``<body>`` tag opened the body
    and holds that class itself.
    """
    before = _BEFORE_BODY.match(markup)  # always matches, the empty string at least
    start = before.end() if before else 0
    if not _BODY_TAG.match(markup, start):
        return None
    end = markup.find(">", start)
    first = LexborHTMLParser(markup[start : end + 1] if end != -1 else markup[start:]).body
    return first.attributes.get("class") if first is not None else None


def _has_elements(node: LexborNode) -> bool:
    return next(node.iter(), None) is not None


def _in_foreign_content(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in _FOREIGN:
            return True
        parent = parent.parent
    return False


def _once(nodes: list[LexborNode]) -> list[LexborNode]:
    # lexbor lists a node once for each selector of a list that it matches (XPath's union, once).
    # (``:is()`` would avoid that, but lexbor 1.0.2 misses matches of ``:is(article, main) a``.)
    seen: set[int] = set()
    once = []
    for node in nodes:
        if node.mem_id not in seen:
            seen.add(node.mem_id)
            once.append(node)
    return once


def _values(nodes: list[LexborNode], name: str) -> list[str]:
    # lexbor has None for an attribute written without a value, libxml2 "".
    return [node.attributes[name] or "" for node in nodes]


def _named(nodes: list[LexborNode], names: frozenset[str]) -> list[str]:
    # Several attributes of one element in the order they are written, as XPath's union has them.
    return [
        value or "" for node in nodes for name, value in node.attributes.items() if name in names
    ]


def _link_hrefs(links: list[LexborNode], token: str) -> list[str]:
    hrefs = []
    for node in links:
        attrs = node.attributes
        if "href" in attrs and _has_token(attrs.get("rel"), token):
            hrefs.append(attrs["href"] or "")
    return hrefs


def _lexbor_resources(tree: LexborHTMLParser, srcset_limit: int) -> list[str] | None:
    links = tree.css("link[rel]")
    images = tree.css("img")
    urls = (
        _link_hrefs(links, " stylesheet ")
        + _values(tree.css("script[src]"), "src")
        + _values([node for node in images if "src" in node.attributes], "src")
        + _link_hrefs(links, " icon ")
        + _named(images, _LAZY_SRC)
        + [
            node.attributes["poster" if node.tag == "video" else "src"] or ""
            for node in tree.css("iframe[src], embed[src], video[poster]")
        ]
        + _link_hrefs(links, " preload ")
    )
    for node in tree.css("img, source, link[imagesrcset]"):
        names = _LINK_SRCSET if node.tag == "link" else _IMAGE_SRCSET
        for name, value in node.attributes.items():
            if name in names:
                urls += bounded(value or "", srcset_limit)
    for node in _once(tree.css("[style], style")):
        style = node.attributes.get("style")
        if style is not None:
            urls += css_urls(style)
        if node.tag == "style":
            text = node.text(deep=False)
            # Inside <svg> or <math>, lexbor reads tags and entities in a style; libxml2 does not.
            if _has_elements(node) or ("&" in text and _in_foreign_content(node)):
                return None
            urls += css_urls(text)
    return urls
