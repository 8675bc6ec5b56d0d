"""URL map and HTTP semantics of lifegate.it and lifegate.com, plus what all fixture sites share.

A route returns a server.Response; headers imitate WordPress behind a caching CDN.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from fixture_site import assets, pages
from fixture_site.body import blocks_html
from fixture_site.content import ArticleFixture, category_slug
from fixture_site.feeds import FeedItem, robots_txt, rss, sitemap_index, urlset
from fixture_site.layout import Theme
from fixture_site.prose import topic_label, topics
from fixture_site.server import Request, Response

HTML = "text/html; charset=UTF-8"
PER_PAGE = 10
FEED_ITEMS = 10
PINNED_ARCHIVE_STORY = "/russia-corea-del-nord-putin"
# Every post is also filed under "News", as on the real site: an archive long enough to
# paginate even on the thirty-article default catalogue.
NEWS_CATEGORY = "news"
NEWS_LABEL = {"it": "Ultime notizie", "en": "Latest news"}
ASSETS_MODIFIED = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
STATIC_MODIFIED = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
SLOW_BODY = (
    b"<!doctype html><html><head><title>Slow</title></head><body><p>"
    + b"." * 62
    + b"</p></body></html>\n"
)
_IMAGE = re.compile(r"^/(?:app|wp-content)/[\w/.-]+\.(?:jpe?g|png)$", re.IGNORECASE)


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """RFC 9110 evaluation: If-None-Match wins over If-Modified-Since (weak comparison)."""
    inm = request.header("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.header("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= since
    return False


class SiteApp:
    """What the three imitated sites share: theme assets, images, fault paths, response builders."""

    theme_dir = assets.LIFEGATE_THEME
    theme_name = "lifegate"

    def __init__(self, key: str, site, bases: Mapping[str, str]) -> None:
        self.key = key
        self.site = site
        self.bases = dict(bases)
        self.base = bases[key]
        self._flaky_lock = threading.Lock()
        self._flaky_served = False

    # -- response builders ---------------------------------------------------------------

    def cdn_headers(self) -> list[tuple[str, str]]:
        return [("X-Content-Type-Options", "nosniff"), ("Via", "1.1 varnish"), ("X-Cache", "HIT")]

    def html(
        self,
        text: str,
        status: int = 200,
        *,
        chunked: bool = False,
        cache: str = "public, max-age=300, s-maxage=600",
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        return Response(
            status,
            text.encode("utf-8"),
            HTML,
            [
                ("Link", f'<{self.base}/wp-json/>; rel="https://api.w.org/"'),
                ("Cache-Control", cache),
                *headers,
                *self.cdn_headers(),
            ],
            compressible=True,
            chunked=chunked,
        )

    def xml(
        self,
        text: str,
        content_type: str = "text/xml; charset=UTF-8",
        *,
        chunked: bool = False,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        return Response(
            200,
            text.encode("utf-8"),
            content_type,
            [("Cache-Control", "public, max-age=600"), *headers, *self.cdn_headers()],
            compressible=True,
            chunked=chunked,
        )

    def redirect(self, location: str, status: int = 301) -> Response:
        target = location if location.startswith("http") else self.base + location
        return Response(
            status,
            b"",
            HTML,
            [
                ("Location", target),
                ("X-Redirect-By", "WordPress"),
                ("Cache-Control", "max-age=3600"),
                *self.cdn_headers(),
            ],
        )

    def asset(self, body: bytes, content_type: str, compressible: bool) -> Response:
        etag = '"' + hashlib.md5(body).hexdigest()[:16] + '"'
        return Response(
            200,
            body,
            content_type,
            [
                ("Last-Modified", http_date(ASSETS_MODIFIED)),
                ("ETag", etag),
                ("Cache-Control", "public, max-age=31536000, immutable"),
                ("Accept-Ranges", "bytes"),
                *self.cdn_headers(),
            ],
            compressible=compressible,
        )

    # -- shared routes -----------------------------------------------------------------

    def shared(self, request: Request) -> Response | None:
        """Assets, images and fault paths; None when the path is not one of them."""
        path = request.path
        if path == f"{self.theme_dir}/styles/main.css" or path == f"{self.theme_dir}/style.css":
            return self.asset(
                assets.stylesheet(self.theme_name).encode(), "text/css; charset=UTF-8", True
            )
        if path == f"{self.theme_dir}/scripts/main.js" or path == f"{self.theme_dir}/js/main.js":
            return self.asset(
                assets.script(self.theme_name).encode(),
                "application/javascript; charset=UTF-8",
                True,
            )
        if path.startswith(f"{self.theme_dir}/fonts/") and path.endswith(".woff2"):
            return self.asset(assets.font_bytes(path), "font/woff2", False)
        if path.endswith("/images/logo.svg"):
            return self.asset(assets.LOGO_SVG.encode(), "image/svg+xml", True)
        if _IMAGE.match(path):
            found = assets.image_for(path)
            if found is not None:
                return self.asset(found[0], found[1], False)
        if path.startswith("/fault/") and self.site.include_faults:
            return self.fault(path)
        return None

    def fault(self, path: str) -> Response | None:
        if path == "/fault/flaky-500":
            with self._flaky_lock:
                first, self._flaky_served = not self._flaky_served, True
            if first:
                return Response(
                    500,
                    pages.DATABASE_ERROR_PAGE.encode(),
                    HTML,
                    [
                        ("Retry-After", "1"),
                        ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
                    ],
                    compressible=True,
                )
            return self.html(
                self.small_page(
                    path,
                    "Pagina temporaneamente instabile",
                    "Il server ha risposto di nuovo correttamente.",
                )
            )
        if path == "/fault/redirect-loop":
            return self.redirect("/fault/redirect-loop-b", 302)
        if path == "/fault/redirect-loop-b":
            return self.redirect("/fault/redirect-loop", 302)
        if path == "/fault/truncated":
            page = self.small_page(path, "Risposta troncata", "Questa pagina arriva a metà.")
            return Response(200, page.encode("utf-8"), HTML, self.cdn_headers(), fault="truncate")
        if path == "/fault/slow":
            return Response(200, SLOW_BODY, HTML, [("Cache-Control", "no-store")], fault="trickle")
        return None

    def small_page(self, path: str, title: str, text: str) -> str:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if request.path == "/wp-comments-post.php":
            back = (
                form.get("redirect_to", [None])[0] or request.header("referer") or self.base + "/"
            )
            return self.redirect(back.split("#")[0] + "#comments", 302)
        if request.path == "/wp-admin/admin-ajax.php":
            return Response(
                200, b'{"success":true}', "application/json; charset=UTF-8", self.cdn_headers()
            )
        return Response(405, b"", HTML, [("Allow", "GET, HEAD")])


class LifegateApp(SiteApp):
    """lifegate.it ("it") or lifegate.com ("en") over the FixtureSite catalogue."""

    def __init__(self, key: str, site, bases: Mapping[str, str]) -> None:
        super().__init__(key, site, bases)
        self.lang = "it" if key == "it" else "en"
        other = "en" if key == "it" else "it"
        self.static = {
            path: (title, paras, 2000 + i)
            for i, (path, title, paras) in enumerate(pages.STATIC_PAGES[self.lang])
        }
        self.categories = {NEWS_CATEGORY: NEWS_LABEL[self.lang]}
        self.categories.update(
            {category_slug(t, key, self.lang): topic_label(t, self.lang) for t in topics()}
        )
        self.theme = Theme(
            key,
            self.base,
            self._menu(),
            [(p, t) for p, (t, _, _) in self.static.items()],
            bases[other] + "/" if other in bases else None,
        )

    def _menu(self) -> list[tuple[str, str, list[str]]]:
        menu: list[tuple[str, str, list[str]]] = []
        for slug, label in self.categories.items():
            if slug == NEWS_CATEGORY:
                menu.append((slug, label, []))
                continue
            counts = Counter(t for e in self.category_entries(slug) for t in e.tags)
            menu.append((slug, label, [t for t, _ in counts.most_common(6)]))
        return menu

    def __call__(self, request: Request) -> Response:
        if request.method == "POST" and request.path in (
            "/wp-comments-post.php",
            "/wp-admin/admin-ajax.php",
        ):
            return self.post(request)
        if request.method not in ("GET", "HEAD", "POST"):
            return Response(405, b"", HTML, [("Allow", "GET, HEAD, POST")])
        found = self.shared(request)
        if found is not None:
            return found
        return self.route(request)

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            post_id = parse_qs(request.query).get("p", [""])[0]
            if post_id.isdigit():
                entry = self.site.by_post_id(self.key, int(post_id))
                return self.redirect(entry.path) if entry else self.not_found()
            return self.home()
        if path == "/robots.txt":
            body = robots_txt(self.base, "/sitemap_index.xml", ["/preview/"])
            return Response(
                200,
                body.encode(),
                "text/plain; charset=UTF-8",
                [("Cache-Control", "public, max-age=86400"), *self.cdn_headers()],
            )
        if path in ("/sitemap.xml", "/wp-sitemap.xml"):
            return self.redirect("/sitemap_index.xml")
        if path == "/sitemap_index.xml":
            return self.sitemap_index()
        if m := re.fullmatch(r"/post-sitemap(\d*)\.xml", path):
            return self.post_sitemap(int(m.group(1) or 1), bool(m.group(1)))
        if path == "/page-sitemap.xml":
            return self.page_sitemap()
        if path == "/category-sitemap.xml":
            return self.category_sitemap()
        if path == "/main-sitemap.xsl":
            return self.xml(assets.MAIN_SITEMAP_XSL, "text/xsl; charset=UTF-8")
        if path in ("/feed", "/feed/"):
            return self.feed(self.site.entries(self.key), self.base + "/feed", "LifeGate")
        if m := re.fullmatch(r"/category/([^/]+)/feed/?", path):
            slug = m.group(1)
            if slug not in self.categories:
                return self.not_found()
            archives = "Archivi" if self.lang == "it" else "Archives"
            return self.feed(
                self.category_entries(slug),
                f"{self.base}/category/{slug}/feed",
                f"{self.categories[slug]} {archives} - LifeGate",
            )
        if m := re.fullmatch(r"/(category|tag|author)/([^/]+)(?:/page/(\d+))?(/?)", path):
            facet, slug, page, slash = m.groups()
            return self.archive(facet, slug, int(page or 1), bool(slash), page == "1")
        if m := re.fullmatch(r"/persone/news/([^/]+)/?", path):
            return self.redirect(f"/news/{m.group(1)}")
        if m := re.fullmatch(r"/news/([^/]+)/?", path):
            return self.redirect(f"/{m.group(1)}")
        if path.startswith("/preview/"):
            return self.html(
                self.small_page(path, self.theme.labels["preview"], "Bozza non ancora pubblicata."),
                cache="private, no-cache",
                headers=[("X-Robots-Tag", "noindex, nofollow")],
            )
        if path.startswith("/wp-json"):
            return self.wp_json(path)
        if path == "/wp-admin/admin-ajax.php":
            return Response(400, b"0", HTML, self.cdn_headers())
        if path.startswith("/wp-admin"):
            return self.redirect("/wp-login.php?redirect_to=" + path, 302)
        if m := re.fullmatch(r"/embed/([^/]+)/", path):
            article = self.site.lookup(self.key, "/" + m.group(1))
            if article is not None:
                return self.html(
                    pages.embed_page(self.theme, self.site.resolve(article)),
                    headers=[("X-Robots-Tag", "noindex")],
                )
        if m := re.fullmatch(r"/([^/]+)(/?)", path):
            slug_path, slash = "/" + m.group(1), m.group(2)
            article = self.site.lookup(self.key, slug_path)
            if article is not None:
                return self.redirect(slug_path) if slash else self.article(request, article)
            if self.site.is_removed(self.key, slug_path):
                return self.not_found(410)
            if slug_path in self.static:
                if slash:
                    return self.redirect(slug_path)
                title, paras, page_id = self.static[slug_path]
                return self.html(pages.static_page(self.theme, slug_path, title, paras, page_id))
        return self.not_found()

    def category_entries(self, slug: str) -> list:
        if slug == NEWS_CATEGORY:
            return self.site.entries(self.key)
        return self.site.grouped(self.key, "category").get(slug, ("", []))[1]

    # -- pages ---------------------------------------------------------------------------

    def not_found(self, status: int = 404) -> Response:
        latest = [self.site.resolve(e) for e in self.site.entries(self.key)[:4]]
        return self.html(
            pages.error_page(self.theme, status, latest),
            status,
            cache="no-cache, must-revalidate, max-age=0",
        )

    def small_page(self, path: str, title: str, text: str) -> str:
        return pages.small_article_page(
            self.theme, path, title, text, "post-template-default single single-post"
        )

    def alternates(self, article: ArticleFixture) -> list[tuple[str, str]]:
        counterparts = self.site.translations(article)
        if not counterparts:
            return []
        pairs = sorted(
            [(article.lang, article.url(self.bases))]
            + [(a.lang, a.url(self.bases)) for a in counterparts if a.site in self.bases]
        )
        # The Italian original is the default for readers of any other language.
        return [*pairs, ("x-default", dict(pairs).get("it", pairs[0][1]))]

    def article(self, request: Request, article: ArticleFixture) -> Response:
        etag = article.etag
        headers = [
            ("ETag", etag),
            ("Last-Modified", http_date(article.modified)),
            ("Link", f"<{self.base}/?p={article.post_id}>; rel=shortlink"),
        ]
        if not_modified(request, etag, article.modified):
            return Response(
                304,
                b"",
                None,
                [*headers, ("Cache-Control", "public, max-age=300"), *self.cdn_headers()],
                compressible=True,
            )
        read_also = self.site.next_older(article)
        text = pages.article_page(
            self.theme,
            article,
            related=self.site.related(article),
            most_read=self.site.most_read(self.key),
            read_also=read_also,
            read_also_old_form=self.key == "it" and article.post_id % 4 == 0,
            alternates=self.alternates(article),
        )
        return self.html(text, headers=headers)

    def home(self) -> Response:
        entries = self.site.entries(self.key)
        latest = [self.site.resolve(e) for e in entries[:13]]
        sections = [
            (slug, label, [self.site.resolve(e) for e in self.category_entries(slug)[:3]])
            for slug, label in self.categories.items()
            if slug != NEWS_CATEGORY
        ]
        archive = [self.site.resolve(entries[i]) for i in (0, 20, 25) if i < len(entries)]
        service: list[tuple[str, str]] = []
        if self.key == "it":
            service.append(("/preview/nuovo-articolo-in-lavorazione", self.theme.labels["preview"]))
            if self.site.include_faults:
                service += [
                    ("/articolo-rimosso-dalla-redazione", "Un articolo che non c'è più"),
                    ("/fault/flaky-500", "Pagina instabile"),
                    ("/fault/redirect-loop", "Redirect circolare"),
                    ("/fault/truncated", "Risposta troncata"),
                    ("/fault/slow", "Risposta lenta"),
                ]
        alternates = [(k, self.bases[k] + "/") for k in ("it", "en") if k in self.bases]
        text = pages.home_page(
            self.theme,
            latest=latest,
            sections=sections,
            archive=archive,
            service_links=service,
            alternates=alternates,
            archive_old_form=self.key == "it",
        )
        cookies = [
            ("Set-Cookie", f"pll_language={self.lang}; Max-Age=31536000; Path=/; SameSite=Lax"),
            ("Set-Cookie", "lg_visitor=6f1c2a9e4b7d3f08; Path=/; HttpOnly; SameSite=Lax"),
        ]
        return self.html(text, chunked=True, cache="public, max-age=60", headers=cookies)

    def archive(
        self, facet: str, slug: str, page: int, slash: bool, explicit_first: bool
    ) -> Response:
        groups = self.site.grouped(self.key, facet)
        if facet == "category" and slug in self.categories:
            name, entries = self.categories[slug], self.category_entries(slug)
        elif facet != "category" and slug in groups:
            name, entries = groups[slug]
        else:
            return self.not_found()
        base_path = f"/{facet}/{slug}/"

        def url_for(n: int) -> str:
            return self.base + base_path + ("" if n == 1 else f"page/{n}/")

        if explicit_first or not slash:
            return self.redirect(url_for(page))
        pages_count = max(1, math.ceil(len(entries) / PER_PAGE))
        if page > pages_count:
            return self.not_found()
        items = [self.site.resolve(e) for e in entries[(page - 1) * PER_PAGE : page * PER_PAGE]]
        labels = self.theme.labels
        if facet == "category":
            title = name
            description = (
                f"Le ultime notizie e gli approfondimenti di LifeGate: {name.lower()}."
                if self.lang == "it"
                else f"The latest LifeGate news and analysis: {name.lower()}."
            )
            body_class = f"archive category category-{slug}"
        elif facet == "tag":
            title, description = labels["tag"].format(name), labels["tag"].format(name)
            body_class = f"archive tag tag-{slug}"
        else:
            title, description = labels["author"].format(name), labels["author"].format(name)
            body_class = f"archive author author-{slug}"
        featured = None
        if self.key == "it" and facet == "category" and page == 1:
            # Category front pages pin an archive story through its pre-2020 URL.
            featured = self.site.lookup("it", PINNED_ARCHIVE_STORY)
        text = pages.listing_page(
            self.theme,
            title=title,
            description=description,
            items=items,
            page=page,
            pages=pages_count,
            url_for=url_for,
            body_class=body_class,
            feed_url=f"{self.base}{base_path}feed" if facet == "category" else None,
            featured=featured,
        )
        return self.html(text, chunked=True, cache="public, max-age=120")

    # -- machine-readable ----------------------------------------------------------------

    def feed(self, entries: Sequence, self_url: str, title: str) -> Response:
        articles = [self.site.resolve(e) for e in entries[:FEED_ITEMS]]
        items = [
            FeedItem(
                title=a.title,
                link=a.url(self.bases),
                creator=a.author,
                published=a.published,
                categories=[self.categories.get(a.category, a.category), *a.tags],
                guid=f"{self.base}/?p={a.post_id}",
                description=a.standfirst[0] if a.standfirst else a.title,
                content_html=blocks_html(
                    a.blocks, base=self.base, post_id=a.post_id, link_targets=()
                ),
            )
            for a in articles
        ]
        last = max((a.modified for a in articles), default=None)
        text = rss(
            title=title,
            link=self.base,
            self_url=self_url,
            description=self.theme.labels["tagline"],
            language=self.theme.html_lang,
            items=items,
            last_build=last,
        )
        return self.xml(text, "application/rss+xml; charset=UTF-8", chunked=True)

    def _sitemap_pages(self) -> list[list]:
        ordered = self.site.sitemap_entries(self.key)
        size = self.site.sitemap_page_size
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]

    def sitemap_index(self) -> Response:
        children = [
            (f"{self.base}/post-sitemap{'' if n == 1 else n}.xml", max(e.modified for e in chunk))
            for n, chunk in enumerate(self._sitemap_pages(), start=1)
        ]
        newest = max((e.modified for e in self.site.entries(self.key)), default=STATIC_MODIFIED)
        children.append((f"{self.base}/page-sitemap.xml", max(newest, STATIC_MODIFIED)))
        children.append((f"{self.base}/category-sitemap.xml", newest))
        return self.xml(
            sitemap_index(self.base, children), headers=[("X-Robots-Tag", "noindex, follow")]
        )

    def post_sitemap(self, number: int, explicit: bool) -> Response:
        chunks = self._sitemap_pages()
        if (explicit and number == 1) or not 1 <= number <= len(chunks):
            return self.not_found()
        urls = [
            (self.base + e.path, e.modified, self.base + e.hero["src"] if e.hero else None)
            for e in chunks[number - 1]
        ]
        return self.xml(urlset(self.base, urls), headers=[("X-Robots-Tag", "noindex, follow")])

    def page_sitemap(self) -> Response:
        newest = max((e.modified for e in self.site.entries(self.key)), default=STATIC_MODIFIED)
        urls = [(self.base + "/", newest, None)]
        urls += [(self.base + path, STATIC_MODIFIED, None) for path in self.static]
        return self.xml(urlset(self.base, urls), headers=[("X-Robots-Tag", "noindex, follow")])

    def category_sitemap(self) -> Response:
        urls = [
            (f"{self.base}/category/{slug}/", max(e.modified for e in entries), None)
            for slug in self.categories
            if (entries := self.category_entries(slug))
        ]
        return self.xml(urlset(self.base, urls), headers=[("X-Robots-Tag", "noindex, follow")])

    def wp_json(self, path: str) -> Response:
        body: dict[str, Any]
        if path in ("/wp-json", "/wp-json/"):
            body = {
                "name": "LifeGate",
                "description": self.theme.labels["tagline"],
                "url": self.base,
                "home": self.base,
                "namespaces": ["oembed/1.0", "wp/v2", "yoast/v1"],
            }
            status = 200
        else:
            body = {
                "code": "rest_no_route",
                "message": "No route was found matching the URL and request method.",
                "data": {"status": 404},
            }
            status = 404
        return Response(
            status,
            json.dumps(body).encode(),
            "application/json; charset=UTF-8",
            [("Cache-Control", "public, max-age=300"), *self.cdn_headers()],
            compressible=True,
        )
