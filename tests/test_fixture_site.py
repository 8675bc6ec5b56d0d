"""Tests of the fixture site: content model, URL map, HTTP behaviour and fault paths."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest

from fixture_site import ArticleFixture, FixtureSite

ROOT = Path(__file__).resolve().parents[1]
SEED = json.loads((ROOT / "fixture_site" / "data" / "seed_article.json").read_text("utf-8"))
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PUTIN = "/russia-corea-del-nord-putin"


class Reply:
    """A fully read HTTP response."""

    def __init__(self, resp: http.client.HTTPResponse, body: bytes) -> None:
        self.status = resp.status
        self.headers = resp.headers
        self.body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(base: str, path: str, headers: dict[str, str] | None = None,
            method: str = "GET") -> Reply:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp, resp.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site() -> FixtureSite:
    return FixtureSite(include_faults=True)


@pytest.fixture(scope="module")
def running(site: FixtureSite):
    with site.serve(host="127.0.0.1") as running:
        yield running


@pytest.fixture(scope="module")
def it_base(running) -> str:
    return running.base_urls["it"]


def seed_lines() -> list[str]:
    lines: list[str] = []
    for block in SEED["blocks"]:
        if block["type"] == "ul":
            lines += [f"- {item}" for item in block["items"]]
        elif block["type"] != "figure":
            lines.append(block["text"])
    return lines


# -- content model -------------------------------------------------------------------------


def test_article_counts(site: FixtureSite) -> None:
    counts = Counter((a.site, a.lang, a.credits_lifegate) for a in site.articles)
    assert counts[("it", "it", False)] >= 30
    assert counts[("en", "en", False)] >= 10
    assert counts[("republisher", "de", True)] >= 4
    assert counts[("republisher", "fr", True)] >= 2
    assert counts[("republisher", "de", False)] + counts[("republisher", "fr", False)] >= 1
    assert site.article(PUTIN, site="it").published.year == 2024
    assert all(a.published.tzinfo is not None for a in site.articles)
    licences = {a.site: a.license for a in site.articles}
    assert licences == {"it": None, "en": "CC BY-NC-ND 4.0", "republisher": "CC-BY-SA"}


def test_seed_article_model(site: FixtureSite) -> None:
    seed = site.article(SEED["url_path"], site="republisher")
    assert isinstance(seed, ArticleFixture)
    assert (seed.lang, seed.title, seed.kicker) == ("de", SEED["title"], SEED["kicker"])
    assert seed.standfirst == SEED["standfirst"]
    assert seed.blocks == SEED["blocks"]
    assert seed.translation_of == PUTIN and seed.credits_lifegate
    assert seed.expected_text_lines() == seed_lines()


def test_translations_point_at_existing_originals(site: FixtureSite) -> None:
    it_paths = {a.path for a in site.articles if a.site == "it"}
    linked = [a for a in site.articles if a.translation_of]
    assert sum(a.site == "en" for a in linked) >= 3
    assert all(a.translation_of in it_paths for a in linked)


def test_paragraphs_are_distinct_across_generated_articles() -> None:
    site = FixtureSite(extra_articles=800)
    texts = [b["text"] for a in site.articles if a.site == "it"
             for b in a.blocks if b["type"] in ("p", "blockquote")]
    assert len(texts) == len(set(texts))
    words = [sum(len(line.split()) for line in a.expected_text_lines()) for a in site.articles[:60]]
    assert min(words) > 150


# -- robots, sitemaps, feeds -----------------------------------------------------------------


def test_robots_txt(running, it_base: str) -> None:
    reply = request(it_base, "/robots.txt")
    assert reply.status == 200
    assert f"Sitemap: {it_base}/sitemap_index.xml" in reply.text.splitlines()
    assert "Disallow: /preview/" in reply.text and "Disallow: /wp-admin/" in reply.text
    assert f'{it_base}/preview/' in request(it_base, "/").text
    rep = request(running.base_urls["republisher"], "/robots.txt").text
    assert f"Sitemap: {running.base_urls['republisher']}/sitemap.xml" in rep


def test_sitemaps_list_every_it_article(site: FixtureSite, it_base: str) -> None:
    index = ET.fromstring(request(it_base, "/sitemap_index.xml").body)
    children = [s.findtext(f"{SM}loc") for s in index.iter(f"{SM}sitemap")]
    assert all(s.findtext(f"{SM}lastmod") for s in index.iter(f"{SM}sitemap"))
    post_maps = [c for c in children if "/post-sitemap" in c]
    assert len(post_maps) >= 2 and f"{it_base}/page-sitemap.xml" in children
    found: dict[str, str] = {}
    for child in post_maps:
        urlset = ET.fromstring(request(it_base, urlsplit(child).path).body)
        urls = list(urlset.iter(f"{SM}url"))
        assert len(urls) <= 20
        found.update({u.findtext(f"{SM}loc"): u.findtext(f"{SM}lastmod") for u in urls})
    expected = {it_base + a.path for a in site.articles if a.site == "it"}
    assert set(found) == expected
    assert all(datetime.fromisoformat(lastmod).tzinfo is not None for lastmod in found.values())


def test_feed_has_ten_items(it_base: str) -> None:
    reply = request(it_base, "/feed")
    assert reply.header("Content-Type").startswith("application/rss+xml")
    channel = ET.fromstring(reply.body).find("channel")
    items = channel.findall("item")
    assert len(items) == 10
    for item in items:
        assert item.findtext("pubDate") and item.findtext("{http://purl.org/dc/elements/1.1/}creator")
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "false" and guid.text.startswith(f"{it_base}/?p=")
    category = ET.fromstring(request(it_base, "/category/energia/feed").body)
    assert 1 <= len(category.findall("channel/item")) <= 10


# -- HTTP behaviour ------------------------------------------------------------------------


def test_gzip_negotiation_matches_body_sent(running, it_base: str) -> None:
    plain = request(it_base, PUTIN)
    assert plain.header("Content-Encoding") is None
    assert "Accept-Encoding" in plain.header("Vary")
    assert 80_000 < len(plain.body) < 250_000
    zipped = request(it_base, PUTIN, {"Accept-Encoding": "gzip, deflate"})
    assert zipped.header("Content-Encoding") == "gzip"
    assert zipped.body[:2] == b"\x1f\x8b"
    assert gzip.decompress(zipped.body) == plain.body
    assert running.sent_body("it", PUTIN) == zipped.body
    again = request(it_base, PUTIN, {"Accept-Encoding": "gzip"})
    assert again.body == zipped.body
    css = request(it_base, "/app/themes/lifegate/dist/styles/main.css?ver=3.8.2",
                  {"Accept-Encoding": "gzip"})
    assert css.header("Content-Encoding") == "gzip" and css.header("Content-Type").startswith("text/css")


def test_article_headers(site: FixtureSite, it_base: str) -> None:
    reply = request(it_base, PUTIN)
    article = site.article(PUTIN, site="it")
    assert reply.header("Content-Type") == "text/html; charset=UTF-8"
    assert reply.header("Server") and reply.header("Date") and reply.header("Last-Modified")
    assert reply.header("ETag") == article.etag and not article.etag.startswith("W/")
    assert f'<{it_base}/wp-json/>; rel="https://api.w.org/"' in reply.headers.get_all("Link")
    assert reply.header("Content-Length") == str(len(reply.body))
    home = request(it_base, "/")
    assert len(home.headers.get_all("Set-Cookie")) == 2


def test_article_markup(site: FixtureSite, running, it_base: str) -> None:
    article = site.article(PUTIN, site="it")
    doc = lxml.html.fromstring(request(it_base, PUTIN).body)
    assert doc.get("lang") == "it-IT"
    assert f"postid-{article.post_id}" in doc.body.get("class")
    assert doc.cssselect(".single__title h1")[0].text_content() == article.title
    assert doc.cssselect(".single__kicker")[0].text_content() == article.kicker
    assert [p.text_content() for p in doc.cssselect(".post__description p")] == article.standfirst
    body = doc.cssselect(".post__content.editorial")[0]
    paragraphs = {p.text_content() for p in body.iter("p")}
    assert all(b["text"] in paragraphs for b in article.blocks if b["type"] == "p")
    assert body.cssselect(".read-also a") and body.cssselect("a")
    for selector in ("#cookie-banner", ".post__trends a", ".share", ".newsletter-box",
                     ".related-articles .card", "aside.sidebar", "#comments", "footer"):
        assert doc.cssselect(selector), selector
    json_ld = [json.loads(s.text) for s in doc.cssselect('script[type="application/ld+json"]')]
    news = next(d for d in json_ld if d["@type"] == "NewsArticle")
    assert news["headline"] == article.title and news["inLanguage"] == "it-IT"
    en = next(a for a in site.articles if a.site == "en" and a.translation_of)
    en_doc = lxml.html.fromstring(request(running.base_urls["en"], en.path).body)
    assert en_doc.get("lang") == "en-US"
    assert en_doc.cssselect(".post__content.editorial > p.licence")
    assert en_doc.cssselect(".post__content.editorial > *")[-1].get("class") == "licence"
    alt = {link.get("hreflang"): link.get("href") for link in en_doc.cssselect('link[rel="alternate"][hreflang]')}
    assert alt["it"] == it_base + en.translation_of
    it_doc = lxml.html.fromstring(request(it_base, en.translation_of).body)
    back = {link.get("hreflang"): link.get("href") for link in it_doc.cssselect('link[rel="alternate"][hreflang]')}
    assert back["en"] == running.base_urls["en"] + en.path


def test_listing_is_chunked_and_not_an_article(it_base: str) -> None:
    parts = urlsplit(it_base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        # Two requests on one keep-alive connection also check the chunk framing.
        conn.request("GET", "/category/persone/")
        resp = conn.getresponse()
        assert resp.getheader("Transfer-Encoding") == "chunked"
        assert resp.getheader("Content-Length") is None
        page = resp.read().decode()
        conn.request("GET", "/robots.txt")
        assert conn.getresponse().read().startswith(b"User-agent: *")
    finally:
        conn.close()
    doc = lxml.html.fromstring(page)
    assert "archive category" in doc.body.get("class")
    assert not doc.cssselect(".single__title")
    assert doc.cssselect(".card__title a")


def test_category_pagination(site: FixtureSite, it_base: str) -> None:
    first = lxml.html.fromstring(request(it_base, "/category/news/").body)
    assert len(first.cssselect(".archive__list .card")) == 10
    [next_link] = first.cssselect("a.next.page-numbers")
    assert next_link.get("href") == f"{it_base}/category/news/page/2/"
    second = request(it_base, "/category/news/page/2/")
    assert second.status == 200 and second.header("Transfer-Encoding") == "chunked"
    assert lxml.html.fromstring(second.body).cssselect('link[rel="prev"]')
    total = len(site.entries("it"))
    assert request(it_base, f"/category/news/page/{total // 10 + 2}/").status == 404
    assert request(it_base, "/category/news/page/1/").status == 301


def test_old_urls_redirect_in_two_hops(it_base: str) -> None:
    first = request(it_base, "/persone/news/russia-corea-del-nord-putin")
    assert first.status == 301
    assert first.header("Location") == f"{it_base}/news/russia-corea-del-nord-putin"
    second = request(it_base, "/news/russia-corea-del-nord-putin")
    assert second.status == 301 and second.header("Location") == it_base + PUTIN
    assert request(it_base, PUTIN).status == 200
    assert "/persone/news/" in request(it_base, "/").text


def test_missing_article_is_404(it_base: str) -> None:
    assert "/articolo-rimosso-dalla-redazione" in request(it_base, "/").text
    reply = request(it_base, "/articolo-rimosso-dalla-redazione")
    assert reply.status == 404 and "error404" in reply.text


def test_flaky_500_then_200(it_base: str) -> None:
    assert request(it_base, "/fault/flaky-500").status == 500
    assert request(it_base, "/fault/flaky-500").status == 200


def test_conditional_requests(site: FixtureSite, it_base: str) -> None:
    first = request(it_base, PUTIN)
    etag, modified = first.header("ETag"), first.header("Last-Modified")
    cached = request(it_base, PUTIN, {"If-None-Match": etag})
    assert cached.status == 304 and cached.body == b"" and cached.header("ETag") == etag
    assert request(it_base, PUTIN, {"If-Modified-Since": modified}).status == 304
    assert request(it_base, PUTIN, {"If-None-Match": '"stale"'}).status == 200


def test_redirect_loop_and_truncation(it_base: str) -> None:
    a = request(it_base, "/fault/redirect-loop")
    assert a.status == 302 and a.header("Location") == f"{it_base}/fault/redirect-loop-b"
    b = request(it_base, "/fault/redirect-loop-b")
    assert b.status == 302 and b.header("Location") == f"{it_base}/fault/redirect-loop"
    with pytest.raises(http.client.IncompleteRead):
        request(it_base, "/fault/truncated")


def test_slow_response_does_not_block_others(it_base: str) -> None:
    parts = urlsplit(it_base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as slow:
        slow.sendall(b"GET /fault/slow HTTP/1.1\r\nHost: x\r\n\r\n")
        head = slow.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert request(it_base, "/robots.txt").status == 200
        assert time.monotonic() - started < 1.0


def test_seed_republication_page(site: FixtureSite, running, it_base: str) -> None:
    rep = running.base_urls["republisher"]
    page = request(rep, SEED["url_path"])
    assert page.status == 200
    doc = lxml.html.fromstring(page.body)
    assert doc.get("lang") == "de-DE"
    assert doc.cssselect("h1")[0].text_content() == SEED["title"]
    texts = {el.text_content() for el in doc.iter("p", "li", "h2", "h3")}
    for line in seed_lines():
        assert line.removeprefix("- ") in texts, line
    captions = " ".join(f.text_content() for f in doc.cssselect("figcaption"))
    assert all(b["caption"] in captions and b["credit"] in captions
               for b in SEED["blocks"] if b["type"] == "figure")
    assert "CAPTCHA" in page.text and SEED["license_line"] in texts and SEED["promo_line"] in texts
    credit = [a.get("href") for a in doc.cssselect("p.source a")]
    assert credit == [it_base + PUTIN]
    assert [a.text_content() for a in doc.cssselect('a[href="#top"]')] == ["^"]
    assert request(it_base, PUTIN).status == 200
    fr = next(a for a in site.articles if a.lang == "fr" and a.credits_lifegate)
    fr_page = request(rep, fr.path).text
    assert "Source : " in fr_page and "Sous licence : CC-BY-SA" in fr_page
    assert "Découvrez le site GratisForGratis" in fr_page
    other = next(a for a in site.articles if a.site == "republisher" and not a.credits_lifegate)
    assert it_base not in request(rep, other.path).text


def test_republisher_sitemap_and_feeds(site: FixtureSite, running) -> None:
    rep = running.base_urls["republisher"]
    index = ET.fromstring(request(rep, "/sitemap.xml").body)
    child = urlsplit(next(index.iter(f"{SM}loc")).text).path
    locs = {u.findtext(f"{SM}loc") for u in ET.fromstring(request(rep, child).body).iter(f"{SM}url")}
    assert {rep + a.path for a in site.articles if a.site == "republisher"} <= locs
    for lang in ("de", "fr"):
        items = ET.fromstring(request(rep, f"/{lang}/feed/").body).find("channel").findall("item")
        assert items and all(f"/{lang}/" in i.findtext("link") for i in items)


def test_images_and_request_log(running, it_base: str) -> None:
    running.reset_requests()
    one = request(it_base, "/app/uploads/2024/06/putin-kim-jong-un.jpg")
    two = request(it_base, "/app/uploads/2024/06/putin-kim-jong-un-300x200.jpg")
    assert one.header("Content-Type") == "image/jpeg"
    assert one.body[:2] == b"\xff\xd8" and one.body[-2:] == b"\xff\xd9" and one.body != two.body
    png = request(it_base, "/app/plugins/really-simple-captcha/tmp/42.png")
    assert png.body.startswith(b"\x89PNG")
    entries = running.requests
    assert [e.path for e in entries][:2] == ["/app/uploads/2024/06/putin-kim-jong-un.jpg",
                                             "/app/uploads/2024/06/putin-kim-jong-un-300x200.jpg"]
    assert entries[0].status == 200 and entries[0].body_sent == one.body
    assert entries[0].site == "it" and entries[0].method == "GET" and "Host" in entries[0].headers


def test_shortlink_redirects(site: FixtureSite, it_base: str) -> None:
    article = site.article(PUTIN, site="it")
    reply = request(it_base, f"/?p={article.post_id}")
    assert reply.status == 301 and reply.header("Location") == it_base + PUTIN


def test_mutations_change_etag_and_listings() -> None:
    site = FixtureSite(extra_articles=5)
    with site.serve() as running:
        base = running.base_urls["it"]
        old = request(base, PUTIN).header("ETag")
        updated = site.update_article(PUTIN, title="Putin e Kim Jong-un, com'è andata")
        assert request(base, PUTIN, {"If-None-Match": old}).status == 200
        assert request(base, PUTIN).header("ETag") == updated.etag != old
        gone = "/siccita-sicilia-2024"
        site.remove_article(gone)
        assert request(base, gone).status == 410
        assert base + gone not in request(base, "/post-sitemap.xml").text
        added = site.add_article(title="Una notizia appena pubblicata")
        assert added.post_id > updated.post_id
        first = ET.fromstring(request(base, "/feed").body).find("channel/item/link").text
        assert first == base + added.path


def test_extra_articles_build_fast_and_serve() -> None:
    started = time.monotonic()
    site = FixtureSite(extra_articles=3000)
    assert time.monotonic() - started < 3.0
    entries = site.entries("it")
    assert len(entries) == 3030
    last = entries[2999 + 30]
    with site.serve() as running:
        reply = request(running.base_urls["it"], last.path, {"Accept-Encoding": "gzip"})
        html = gzip.decompress(reply.body)
        assert reply.status == 200 and 80_000 < len(html) < 250_000
        doc = lxml.html.fromstring(html)
        assert doc.cssselect(".single__title h1")[0].text_content() == last.title
        assert time.monotonic() - started < 6.0


def test_cli_prints_base_url_first() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "fixture_site", "--articles", "33"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:") and " " not in first
        assert second.startswith("en http://127.0.0.1:")
        robots = request(first, "/robots.txt")
        assert robots.status == 200
        # 33 articles at 20 per post sitemap: the second file holds the last 13.
        assert request(first, "/post-sitemap2.xml").text.count("<loc>") == 13
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_no_request_lines_on_stderr(capfd, it_base: str) -> None:
    request(it_base, "/robots.txt")
    request(it_base, "/does-not-exist")
    assert capfd.readouterr().err == ""


def test_date_header_format(it_base: str) -> None:
    date = request(it_base, "/robots.txt").header("Date")
    assert date.endswith("GMT") and len(date) == len(formatdate(usegmt=True))
