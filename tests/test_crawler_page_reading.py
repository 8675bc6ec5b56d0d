"""How the spiders read a page: one parse into a PageOutline that holds no tree, and soft-block
signatures whose fast literal search finds exactly what a case-insensitive regex finds."""

from __future__ import annotations

import gzip
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from scrapy import Selector
from scrapy.http import HtmlResponse

from crawler.page_guard import PageGuard, SoftBlockSignature
from crawler.page_outline import PageOutline
from crawler.settings import ARCHIVE_SOFT_BLOCK_PATTERNS

PAGE = b"""<!doctype html><html><head>
<base href="https://www.lifegate.it/sub/">
<link rel="stylesheet" href="/app/style.css"><link rel="icon shortcut" href="/favicon.ico">
<link rel="alternate" type="application/rss+xml" href="/feed">
<meta property="og:type" content="article">
<script type="application/ld+json">{"@type": "NewsArticle"}</script>
<script src="/app/main.js"></script>
</head><body class="post-template single-post">
<nav><a href="/">Home</a> <a href="/category/ambiente">Ambiente</a></nav>
<article><p>Testo <a href="https://www.lifegate.it/originale#c">fonte</a></p><img src="foto.jpg"></article>
<a href="relativo">relativo</a>
</body></html>"""


def test_the_outline_reads_links_requisites_feeds_and_article_markers_as_plain_strings():
    response = HtmlResponse("https://www.lifegate.it/articolo", body=PAGE, encoding="utf-8")
    page = PageOutline.read(response)
    assert page.base_url == "https://www.lifegate.it/sub/"
    assert page.links == (
        "/",
        "/category/ambiente",
        "https://www.lifegate.it/originale#c",
        "relativo",
    )
    assert page.body_links == ("https://www.lifegate.it/originale#c",)
    assert page.resources == ("/app/style.css", "/app/main.js", "foto.jpg", "/favicon.ico")
    assert page.feeds == ("/feed",)
    assert "single-post" in page.body_classes and page.og_type == "article"
    assert page.ld_json == ('{"@type": "NewsArticle"}',)
    # lxml's smart strings keep a reference to the whole tree; these must be plain str.
    strings = [*page.links, *page.resources, *page.feeds, *page.ld_json, page.og_type]
    assert all(type(s) is str for s in strings)
    # Nothing is cached on the response, so the tree dies with read()'s frame.
    assert getattr(response, "_cached_selector", None) is None


def test_the_outline_of_an_empty_or_broken_page_is_empty_not_an_error():
    for body in (b"", b"\x00\x00<a href='x'", b"<html><body><a>no href</a>"):
        page = PageOutline.read(
            HtmlResponse("https://www.lifegate.it/x", body=body, encoding="utf-8")
        )
        assert page.resources == () and page.feeds == () and not page.body_classes
        assert set(page.links) <= {"x"}


@pytest.mark.parametrize(
    "pattern",
    [
        *ARCHIVE_SOFT_BLOCK_PATTERNS,
        r"Captcha-Delivery\.COM|PX-captcha",
        r"a\|b",
        "Zürich",
        r"x.y",
        r"\x41",
    ],
)
@pytest.mark.parametrize(
    "head",
    [
        b"<html><title>Just a moment...</title><script>window._cf_chl_opt={}</script>",
        b"...<script src='https://ct.CAPTCHA-delivery.com/c.js'></script> px-Captcha",
        b"<div id='PX-CAPTCHA'></div> a|b A|B",
        "ZÜRICH zürich Zürich".encode(),
        b"xAy XAY \x00 a.b",
        b"nothing to see here " * 100,
    ],
)
def test_a_soft_block_signature_finds_what_a_case_insensitive_regex_finds(pattern, head):
    signature = SoftBlockSignature.compile(pattern)
    expected = re.search(pattern.encode(), head, re.IGNORECASE)
    # Among several alternatives the regex reports the leftmost match, so does the signature.
    assert signature.search(head, head.lower()) == (expected.group(0) if expected else None)


def test_plain_words_take_the_literal_path_and_regexes_keep_ignorecase():
    assert SoftBlockSignature.compile(r"captcha-delivery\.com").pattern is None
    assert SoftBlockSignature.compile(r"<title>\s*Just a moment").pattern is not None


def test_the_page_guard_flags_a_soft_block_in_any_case_and_passes_an_article():
    class Settings(dict):
        getlist = dict.__getitem__
        getint = dict.__getitem__

    guard = PageGuard.from_settings(
        Settings(
            ARCHIVE_SOFT_BLOCK_PATTERNS=ARCHIVE_SOFT_BLOCK_PATTERNS,
            ARCHIVE_SOFT_BLOCK_SCAN_BYTES=65536,
        )
    )
    wall = HtmlResponse(
        "https://www.lifegate.it/a", body=b"<html><div class='PX-Captcha'></div>", encoding="utf-8"
    )
    case, reason = guard.inspect(wall)
    assert case == "soft-block" and "PX-Captcha" in reason
    assert (
        guard.inspect(HtmlResponse("https://www.lifegate.it/b", body=PAGE, encoding="utf-8"))
        is None
    )


RESPONSIVE = b"""<!doctype html><html><head>
<style>.hero{background:url(/app/sfondo.png)}@font-face{src:url('/app/font.woff2')}</style>
</head><body>
<picture><source media="(max-width: 767px)" srcset="/a-768.jpg">
<img src="/a.jpg" srcset="/a-300.jpg 300w, /a-768.jpg 768w, /a-1024.jpg 1024w, /a.jpg 1200w"></picture>
<img class="lazyload" src="data:image/gif;base64,R0lGOD" data-src="/b-1024.jpg"
 data-srcset="/b-300.jpg 300w, /b-1024.jpg 1024w">
<div style="background-image:url(&quot;/c.jpg&quot;)"></div>
<iframe src="/altro-articolo/embed/"></iframe>
</body></html>"""


def test_the_outline_lists_what_a_browser_asks_for_srcset_lazy_css_and_frames():
    response = HtmlResponse("https://www.lifegate.it/articolo", body=RESPONSIVE, encoding="utf-8")
    page = PageOutline.read(response)
    assert set(page.resources) == {
        "/a.jpg", "/a-300.jpg", "/a-768.jpg", "/a-1024.jpg", "data:image/gif;base64,R0lGOD",
        "/b-1024.jpg", "/b-300.jpg", "/app/sfondo.png", "/app/font.woff2", "/c.jpg",
        "/altro-articolo/embed/",
    }  # fmt: skip
    assert len(page.resources) == len(set(page.resources))
    # Bounded: an even spread of widths, the smallest and the largest always kept.
    bounded = PageOutline.read(response, srcset_limit=2)
    assert {"/a-300.jpg", "/a.jpg"} <= set(bounded.resources)
    assert "/a-1024.jpg" not in bounded.resources


def _sample_pages() -> list[HtmlResponse]:
    sample = Path(__file__).parent / "extraction_benchmark_sample" / "html"
    return [
        HtmlResponse(f"https://news.example/{path.name}", body=gzip.decompress(path.read_bytes()))
        for path in sorted(sample.glob("*.html.gz"))
    ]


def _fixture_pages(running) -> list[HtmlResponse]:
    pages = []
    for site in running.base_urls:
        home = running.url(site, "/")
        with urllib.request.urlopen(home, timeout=10) as answer:
            first = HtmlResponse(home, body=answer.read())
        links = [first.urljoin(h) for h in first.css("a::attr(href)").getall()]
        local = [u for u in dict.fromkeys(links) if u.startswith(running.url(site, "/"))]
        pages.append(first)
        for url in local[:12]:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    pages.append(HtmlResponse(url, body=answer.read()))
            except urllib.error.HTTPError as error:
                pages.append(HtmlResponse(url, body=error.read()))
    return pages


def test_the_outline_reads_what_the_css_queries_it_replaces_read(fixture_site):
    """One walk for the markers, requisites only when asked: the same strings as parsel's CSS."""
    _, running = fixture_site
    pages = _sample_pages() + _fixture_pages(running)
    assert len(pages) > 20
    kinds = {"feeds": 0, "ld_json": 0, "og_type": 0, "body_classes": 0}
    for response in pages:
        page = PageOutline.read(response, srcset_limit=8)
        css = Selector(response=response).css
        assert page.links == tuple(css("a::attr(href)").getall()), response.url
        assert page.body_links == tuple(
            css("article a::attr(href), main a::attr(href)").getall()
        )
        assert page.feeds == tuple(
            css(
                'link[rel=alternate][type="application/rss+xml"]::attr(href),'
                ' link[rel=alternate][type="application/atom+xml"]::attr(href)'
            ).getall()
        )
        assert page.ld_json == tuple(css('script[type="application/ld+json"]::text').getall())
        assert page.og_type == (css('meta[property="og:type"]::attr(content)').get() or "")
        body_class = css("body::attr(class)").get()
        assert page.body_classes == frozenset(body_class.split() if body_class else ())
        without = PageOutline.read(response, srcset_limit=8, resources=False)
        assert without.resources == () and without.links == page.links
        assert without.ld_json == page.ld_json and without.body_classes == page.body_classes
        for kind in kinds:
            kinds[kind] += bool(getattr(page, kind))
    # The pages hold every kind of marker, so each comparison above compared something.
    assert all(kinds.values()), kinds


def test_links_remembered_across_pages_are_those_plain_resolution_would_follow():
    """Hrefs handled on an earlier page are skipped: the same requests as resolving every one."""
    from scrapy.utils.test import get_crawler

    from crawler.spiders.archive_spider import ArchiveSpider

    class Site(ArchiveSpider):
        name = "site"

    spider = Site.from_crawler(get_crawler(Site), base_url="https://www.lifegate.it")
    hrefs = [
        "/", "/a/../b", "relativo", "../su", "?page=2", "#top", "//www.lifegate.it/p",
        "https://www.lifegate.it/x#frag", "https://other.example/x", "http://www.lifegate.it/y",
        " /spazio", "/a/../b",
    ]  # fmt: skip
    followed: list[str] = []
    expected: list[str] = []
    seen: set[str] = set()
    for path in ("/uno/pagina", "/due/altra/pagina", "/uno/pagina"):
        body = "".join(f'<a href="{h}">x</a>' for h in hrefs).encode()
        response = HtmlResponse(f"https://www.lifegate.it{path}", body=body, encoding="utf-8")
        page = PageOutline.read(response)
        followed += [r.url for r in spider.link_requests(page)]
        for href in page.links:
            url = page.absolute(href).split("#", 1)[0]
            if url not in seen and spider.in_scope(url):
                seen.add(url)
                expected.append(url)
    assert followed == expected
    assert "https://www.lifegate.it/due/su" in followed  # relative links of each page
    assert len(spider._handled_hrefs) > 0
