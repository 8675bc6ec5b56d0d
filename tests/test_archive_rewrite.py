"""Rewriting of image candidates in replay: srcset, lazy-loading data-* attributes and inline
styles point at the archive, and a candidate the archive does not hold is never asked for."""

from __future__ import annotations

import html
import re

from archive.rewrite import UrlRewriter, css_urls, rewrite_html, srcset_candidates

BASE = "https://www.lifegate.it/articolo"
TS = "20240620120000"
HELD = {
    "https://www.lifegate.it/app/uploads/foto-300x200.jpg",
    "https://www.lifegate.it/app/uploads/foto-1024x683.jpg",
    "https://www.lifegate.it/app/uploads/sfondo.png",
}


def rewriter() -> UrlRewriter:
    return UrlRewriter(BASE, TS, archived=HELD.__contains__)


def attribute(page: str, name: str) -> str:
    match = re.search(rf'\s{name}="([^"]*)"', page)
    assert match, (name, page)
    return html.unescape(match.group(1))


def replayed(url: str) -> str:
    return f"/web/{TS}mp_/{url}"


def test_srcset_keeps_only_archived_candidates_with_their_descriptors():
    page = rewrite_html(
        '<img src="/app/uploads/foto.jpg" srcset="/app/uploads/foto-300x200.jpg 300w, '
        '/app/uploads/foto-768x512.jpg 768w, /app/uploads/foto-1024x683.jpg 1024w">',
        rewriter(),
    )
    assert attribute(page, "srcset") == (
        f"{replayed('https://www.lifegate.it/app/uploads/foto-300x200.jpg')} 300w, "
        f"{replayed('https://www.lifegate.it/app/uploads/foto-1024x683.jpg')} 1024w"
    )
    # src was not captured: the largest captured candidate stands in for it.
    assert attribute(page, "src") == replayed(
        "https://www.lifegate.it/app/uploads/foto-1024x683.jpg"
    )


def test_lazy_images_are_rewritten_before_their_script_swaps_them_in():
    placeholder = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    page = rewrite_html(
        f'<img class="lazyload" src="{placeholder}" data-src="/app/uploads/foto-768x512.jpg" '
        'data-srcset="/app/uploads/foto-300x200.jpg 300w, /app/uploads/foto-768x512.jpg 768w">',
        rewriter(),
    )
    assert attribute(page, "src") == placeholder
    assert attribute(page, "data-srcset") == (
        f"{replayed('https://www.lifegate.it/app/uploads/foto-300x200.jpg')} 300w"
    )
    assert attribute(page, "data-src") == replayed(
        "https://www.lifegate.it/app/uploads/foto-300x200.jpg"
    )


def test_a_picture_source_with_nothing_archived_is_emptied_so_the_img_is_used():
    page = rewrite_html(
        '<picture><source media="(max-width: 767px)" srcset="/app/uploads/foto-768x512.jpg">'
        '<img src="/app/uploads/foto-1024x683.jpg"></picture>',
        rewriter(),
    )
    assert attribute(page, "srcset") == ""
    assert attribute(page, "src") == replayed(
        "https://www.lifegate.it/app/uploads/foto-1024x683.jpg"
    )


def test_without_any_archived_candidate_every_url_still_goes_to_the_archive():
    page = rewrite_html(
        '<img src="/a.jpg" srcset="/a-300.jpg 300w, /a-600.jpg 600w" style="background:url(/b.png)">',
        rewriter(),
    )
    for name in ("src", "style"):
        assert "/web/" in attribute(page, name)
    assert attribute(page, "srcset") == (
        f"{replayed('https://www.lifegate.it/a-300.jpg')} 300w, "
        f"{replayed('https://www.lifegate.it/a-600.jpg')} 600w"
    )
    assert "https://www.lifegate.it/" not in page.replace(
        f"/web/{TS}mp_/https://www.lifegate.it/", ""
    )


def test_inline_styles_and_style_blocks_point_at_the_archive():
    page = rewrite_html(
        "<style>.x{background:url('/app/uploads/sfondo.png')}</style>"
        '<div style="background-image:url(&quot;/app/uploads/sfondo.png&quot;)"></div>',
        rewriter(),
    )
    assert page.count(replayed("https://www.lifegate.it/app/uploads/sfondo.png")) == 2


def test_candidates_and_css_references_are_parsed_as_written():
    assert srcset_candidates("a.jpg 1x,b.jpg 2x, c,d.jpg 300w") == [
        ("a.jpg", "1x"), ("b.jpg", "2x"), ("c,d.jpg", "300w"),
    ]  # fmt: skip
    css = '@import "x.css"; @font-face{src:url(f.woff2) format("woff2")} a{background:url("i.png")}'
    assert css_urls(css) == ["x.css", "f.woff2", "i.png"]
