"""GratisForGratis, the third-party site republishing LifeGate articles in German and French.

Its boilerplate (credit, licence, promo, CAPTCHA form, lone "^") is what extraction strips.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from fixture_site import assets
from fixture_site.body import blocks_html
from fixture_site.content import ArticleFixture, seed_data
from fixture_site.feeds import FeedItem, robots_txt, rss, sitemap_index, urlset
from fixture_site.layout import (
    HTML_LANG,
    LAZY_SCRIPT,
    attr,
    display_date,
    esc,
    resized,
    srcset,
    w3c,
)
from fixture_site.routes import FEED_ITEMS, HTML, STATIC_MODIFIED, SiteApp, http_date, not_modified
from fixture_site.server import Request, Response

NAME = "GratisForGratis"
THEME_VERSION = "2.4.1"

LABELS = {
    "de": {
        "source": "Quelle:",
        "license": "Lizenziert unter:",
        "promo": seed_data()["promo_line"],
        "home": "Startseite",
        "language": "Deutsch",
        "cookie": "Diese Website verwendet Cookies, um Ihnen das beste Nutzererlebnis zu bieten. "
        "Wenn Sie weitersurfen, stimmen Sie ihrer Verwendung zu.",
        "ok": "Akzeptieren",
        "comments": "Schreibe einen Kommentar",
        "comment": "Kommentar",
        "name": "Name",
        "email": "E-Mail",
        "submit": "Kommentar abschicken",
        "latest": "Neueste Beiträge",
        "by": "von",
        "not_found": "Seite nicht gefunden",
        "not_found_text": "Hier scheint nichts zu sein.",
        "footer": "© 2024 GratisForGratis \u2013 Alle Rechte vorbehalten.",
    },
    "fr": {
        "source": "Source :",
        "license": "Sous licence :",
        "promo": "Découvrez le site GratisForGratis",
        "home": "Accueil",
        "language": "Français",
        "cookie": "Ce site utilise des cookies pour vous offrir la meilleure expérience. "
        "En poursuivant la navigation, vous acceptez leur utilisation.",
        "ok": "Accepter",
        "comments": "Laisser un commentaire",
        "comment": "Commentaire",
        "name": "Nom",
        "email": "E-mail",
        "submit": "Publier le commentaire",
        "latest": "Articles récents",
        "by": "par",
        "not_found": "Page introuvable",
        "not_found_text": "Il semble que rien ne se trouve ici.",
        "footer": "© 2024 GratisForGratis \u2013 Tous droits réservés.",
    },
    "it": {
        "source": "Fonte:",
        "license": "Licenza:",
        "promo": "Scopri il sito GratisForGratis",
        "home": "Home",
        "language": "Italiano",
        "cookie": "Questo sito utilizza i cookie per offrirti la migliore esperienza di "
        "navigazione. Continuando accetti il loro utilizzo.",
        "ok": "Accetto",
        "comments": "Lascia un commento",
        "comment": "Commento",
        "name": "Nome",
        "email": "Email",
        "submit": "Invia commento",
        "latest": "Articoli recenti",
        "by": "di",
        "not_found": "Pagina non trovata",
        "not_found_text": "Sembra che qui non ci sia nulla.",
        "footer": "© 2024 GratisForGratis \u2013 Tutti i diritti riservati.",
    },
}


class RepublisherApp(SiteApp):
    """URL map of GratisForGratis: /de/<slug>/, /fr/<slug>/, feeds, sitemap index."""

    theme_dir = assets.REPUBLISHER_THEME
    theme_name = "republisher"

    def __init__(self, site, bases: Mapping[str, str]) -> None:
        super().__init__("republisher", site, bases)

    def __call__(self, request: Request) -> Response:
        if request.method == "POST":
            return self.post(request)
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"", HTML, [("Allow", "GET, HEAD, POST")])
        found = self.shared(request)
        if found is not None:
            return found
        path = request.path
        if path == "/robots.txt":
            return Response(
                200,
                robots_txt(self.base, "/sitemap.xml").encode(),
                "text/plain; charset=UTF-8",
                self.cdn_headers(),
            )
        if path == "/sitemap.xml":
            return self.sitemap_index()
        if path == "/post-sitemap.xml":
            urls = [
                (self.base + e.path, e.modified, self.base + e.hero["src"] if e.hero else None)
                for e in self.site.sitemap_entries(self.key)
            ]
            return self.xml(urlset(self.base, urls))
        if path == "/page-sitemap.xml":
            return self.xml(
                urlset(
                    self.base,
                    [(self.base + p, self._newest(), None) for p in ("/", "/de/", "/fr/")],
                )
            )
        if path == "/main-sitemap.xsl":
            return self.xml(assets.MAIN_SITEMAP_XSL, "text/xsl; charset=UTF-8")
        if m := re.fullmatch(r"(?:/(de|fr))?/feed/?", path):
            return self.feed(m.group(1))
        if path == "/":
            return self.listing(None)
        if m := re.fullmatch(r"/(de|fr)(/?)", path):
            return self.listing(m.group(1)) if m.group(2) else self.redirect(path + "/")
        if m := re.fullmatch(r"/(de|fr)/([^/]+)(/?)", path):
            canonical = f"/{m.group(1)}/{m.group(2)}/"
            article = self.site.lookup(self.key, canonical)
            if article is not None:
                return self.article(request, article) if m.group(3) else self.redirect(canonical)
            if self.site.is_removed(self.key, canonical):
                return self.not_found(410, m.group(1))
            return self.not_found(404, m.group(1))
        return self.not_found()

    def _entries(self, lang: str | None) -> list:
        return [e for e in self.site.entries(self.key) if lang is None or e.lang == lang]

    def _newest(self):
        return max((e.modified for e in self.site.entries(self.key)), default=STATIC_MODIFIED)

    # -- pages ---------------------------------------------------------------------------

    def document(self, lang: str, title: str, head: str, body_class: str, main: str) -> str:
        labels = LABELS[lang]
        others = [e for e in self._entries(lang if lang != "it" else None)][:6]
        sidebar = "".join(
            f'<li><a href="{attr(self.base + e.path)}">{esc(e.title)}</a></li>' for e in others
        )
        return "".join(
            [
                f'<!DOCTYPE html>\n<html lang="{HTML_LANG[lang]}">\n<head>\n<meta charset="UTF-8">\n',
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
                f"<title>{esc(title)}</title>\n",
                head,
                (
                    f'<link rel="stylesheet" id="gfg-style-css" href="{attr(self.base)}{self.theme_dir}'
                    f'/style.css?ver={THEME_VERSION}" media="all">\n'
                ),
                # The customizer's additions, printed inline after the theme stylesheet.
                (
                    f'<style id="gfg-style-inline-css">.site-footer{{background:#222 url('
                    f"{attr(self.base)}{self.theme_dir}/images/footer-texture.png) repeat;"
                    "background-size:12px 12px}</style>\n"
                ),
                (
                    f'<link rel="alternate" type="application/rss+xml" title="{NAME} &raquo; Feed" '
                    f'href="{attr(self.base)}/feed/">\n</head>\n'
                ),
                f'<body id="top" class="{attr(body_class)}">\n',
                (
                    f'<div id="cookie-notice" class="cookie-notice" role="dialog"><span class="cookie-notice__text">'
                    f'{esc(labels["cookie"])}</span> <button type="button" class="cookie-notice__accept">'
                    f"{esc(labels['ok'])}</button></div>\n"
                ),
                (
                    f'<header id="masthead" class="site-header"><p class="site-title"><a href="{attr(self.base)}/" '
                    f'rel="home">{NAME}</a></p><nav id="site-navigation" class="main-navigation"><ul>'
                    f'<li><a href="{attr(self.base)}/de/">Deutsch</a></li>'
                    f'<li><a href="{attr(self.base)}/fr/">Français</a></li></ul></nav></header>\n'
                ),
                f'<div id="content" class="site-content">\n{main}\n',
                (
                    f'<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries">'
                    f'<h2 class="widget-title">{esc(labels["latest"])}</h2><ul>{sidebar}</ul></section></aside>\n'
                ),
                "</div>\n",
                f'<footer id="colophon" class="site-footer"><p>{esc(labels["footer"])}</p></footer>\n',
                LAZY_SCRIPT,
                "\n",
                f'<script src="{attr(self.base)}{self.theme_dir}/js/main.js?ver={THEME_VERSION}"></script>\n',
                "</body>\n</html>\n",
            ]
        )

    def small_page(self, path: str, title: str, text: str) -> str:
        main = (
            f'<main id="primary" class="site-main"><article class="post"><h1 class="entry-title">'
            f'{esc(title)}</h1><div class="entry-content"><p>{esc(text)}</p></div></article></main>'
        )
        return self.document("it", f"{title} - {NAME}", "", "single single-post", main)

    def not_found(self, status: int = 404, lang: str = "it") -> Response:
        labels = LABELS[lang]
        main = (
            f'<main id="primary" class="site-main"><section class="error-404 not-found">'
            f'<h1 class="page-title">{esc(labels["not_found"])}</h1>'
            f"<p>{esc(labels['not_found_text'])}</p></section></main>"
        )
        text = self.document(
            lang,
            f"{labels['not_found']} - {NAME}",
            '<meta name="robots" content="noindex, follow">\n',
            "error404",
            main,
        )
        return self.html(text, status, cache="no-cache, must-revalidate, max-age=0")

    def listing(self, lang: str | None) -> Response:
        shown = lang or "it"
        cards = "".join(
            f'<article class="post type-post"><header class="entry-header"><h2 class="entry-title">'
            f'<a href="{attr(self.base + e.path)}">{esc(e.title)}</a></h2>'
            f'<div class="entry-meta"><time datetime="{w3c(e.published)}">'
            f"{display_date(e.published, e.lang)}</time></div></header></article>"
            for e in self._entries(lang)
        )
        title = f"{LABELS[shown]['language']} - {NAME}" if lang else NAME
        main = (
            f'<main id="primary" class="site-main"><header class="page-header"><h1 class="page-title">'
            f"{esc(title)}</h1></header>{cards}</main>"
        )
        canonical = f"{self.base}/{lang}/" if lang else f"{self.base}/"
        text = self.document(
            shown,
            title,
            f'<link rel="canonical" href="{attr(canonical)}">\n',
            "home blog" if lang is None else "archive category",
            main,
        )
        return self.html(text, chunked=True, cache="public, max-age=120")

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
        return self.html(self.article_page(article), headers=headers)

    def article_page(self, article: ArticleFixture) -> str:
        lang, labels, base = article.lang, LABELS[article.lang], self.base
        url = base + article.path
        siblings = [e for e in self._entries(lang) if e.path != article.path]
        targets = [base + e.path for e in siblings[:3]]
        content = blocks_html(
            article.blocks,
            base=base,
            post_id=article.post_id,
            link_targets=targets,
            style="republisher",
        )
        if article.credits_lifegate and article.translation_of and "it" in self.bases:
            original = self.bases["it"] + article.translation_of
            content += (
                f'\n<p class="source">{esc(labels["source"])} '
                f'<a href="{attr(original)}" rel="noopener" target="_blank">Lifegate</a></p>'
            )
        if article.license:
            content += f'\n<p class="license">{esc(labels["license"])} {esc(article.license)}</p>'
        summary = "".join(f"<p>{esc(p)}</p>" for p in article.standfirst)
        thumb = ""
        if article.hero:
            src = article.hero["src"]
            thumb = (
                f'<div class="post-thumbnail"><img src="{attr(base + resized(src, 1024, 683))}" '
                f'srcset="{attr(srcset(base, src))}" sizes="(max-width: 1024px) 100vw, 760px" '
                'alt="" width="1200" height="800"></div>'
            )
        captcha = (
            f"{base}/wp-content/plugins/really-simple-captcha/tmp/{article.post_id % 9973}.png"
        )
        tags = ", ".join(f'<span rel="tag">{esc(t)}</span>' for t in article.tags)
        main = (
            '<main id="primary" class="site-main">\n'
            f'<article id="post-{article.post_id}" class="post-{article.post_id} post type-post status-publish">\n'
            f'<header class="entry-header">\n<div class="entry-kicker">{esc(article.kicker)}</div>\n'
            f'<h1 class="entry-title">{esc(article.title)}</h1>\n'
            f'<div class="entry-summary">{summary}</div>\n'
            f'<div class="entry-meta"><time class="entry-date published" datetime="{w3c(article.published)}">'
            f'{display_date(article.published, lang)}</time> <span class="byline">{esc(labels["by"])} '
            f"{esc(article.author)}</span></div>\n</header>\n{thumb}\n"
            f'<div class="entry-content">\n{content}\n</div>\n'
            f'<footer class="entry-footer"><span class="tags-links">{tags}</span></footer>\n</article>\n'
            f'<p class="promo">{esc(labels["promo"])}</p>\n'
            f'<div id="comments" class="comments-area"><div id="respond" class="comment-respond">'
            f'<h3 id="reply-title" class="comment-reply-title">{esc(labels["comments"])}</h3>'
            f'<form action="{attr(base)}/wp-comments-post.php" method="post" id="commentform" class="comment-form">'
            f'<p class="comment-form-comment"><label for="comment">{esc(labels["comment"])}</label>'
            '<textarea id="comment" name="comment" cols="45" rows="8" required></textarea></p>'
            f'<p class="comment-form-author"><label for="author">{esc(labels["name"])}</label>'
            '<input id="author" name="author" type="text" size="30" required></p>'
            f'<p class="comment-form-email"><label for="email">{esc(labels["email"])}</label>'
            '<input id="email" name="email" type="email" size="30" required></p>'
            '<p class="comment-form-captcha"><label for="captcha_code">CAPTCHA</label> '
            f'<img src="{attr(captcha)}" alt="CAPTCHA" width="72" height="24"> '
            '<input id="captcha_code" name="captcha_code" type="text" size="4"></p>'
            f'<input type="hidden" name="comment_post_ID" value="{article.post_id}">'
            f'<input type="hidden" name="redirect_to" value="{attr(url)}">'
            f'<p class="form-submit"><input name="submit" type="submit" class="submit" value="{attr(labels["submit"])}"></p>'
            "</form></div></div>\n"
            '<a href="#top">^</a>\n</main>'
        )
        posting = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": article.title,
            "datePublished": w3c(article.published),
            "dateModified": w3c(article.modified),
            "author": {"@type": "Organization", "name": NAME},
            "inLanguage": HTML_LANG[lang],
            "mainEntityOfPage": url,
            "license": article.license,
        }
        head = (
            f'<link rel="canonical" href="{attr(url)}">\n'
            '<meta property="og:type" content="article">\n'
            f'<meta property="og:title" content="{attr(article.title)}">\n'
            f'<meta property="og:url" content="{attr(url)}">\n'
            f'<meta property="og:site_name" content="{NAME}">\n'
            f'<meta property="article:published_time" content="{w3c(article.published)}">\n'
            f'<meta property="article:modified_time" content="{w3c(article.modified)}">\n'
            + (
                f'<meta property="og:image" content="{attr(base + article.hero["src"])}">\n'
                if article.hero
                else ""
            )
            + '<script type="application/ld+json">'
            + json.dumps(posting, ensure_ascii=False).replace("</", "<\\/")
            + "</script>\n"
        )
        return self.document(
            lang,
            f"{article.title} - {NAME}",
            head,
            f"post-template-default single single-post postid-{article.post_id} "
            "single-format-standard",
            main,
        )

    # -- machine-readable ----------------------------------------------------------------

    def sitemap_index(self) -> Response:
        entries = self.site.entries(self.key)
        children = [
            (f"{self.base}/post-sitemap.xml", max((e.modified for e in entries), default=None)),
            (f"{self.base}/page-sitemap.xml", self._newest()),
        ]
        return self.xml(sitemap_index(self.base, children))

    def feed(self, lang: str | None) -> Response:
        articles = [self.site.resolve(e) for e in self._entries(lang)[:FEED_ITEMS]]
        items: Sequence[FeedItem] = [
            FeedItem(
                title=a.title,
                link=self.base + a.path,
                creator=a.author,
                published=a.published,
                categories=[a.kicker],
                guid=f"{self.base}/?p={a.post_id}",
                description=a.standfirst[0] if a.standfirst else a.title,
                content_html=blocks_html(
                    a.blocks,
                    base=self.base,
                    post_id=a.post_id,
                    link_targets=(),
                    style="republisher",
                ),
            )
            for a in articles
        ]
        self_url = f"{self.base}/{lang}/feed/" if lang else f"{self.base}/feed/"
        text = rss(
            title=f"{NAME} \u2013 {LABELS[lang or 'it']['language']}" if lang else NAME,
            link=self.base + (f"/{lang}/" if lang else "/"),
            self_url=self_url,
            description="Notizie, guide e risorse gratuite",
            language=HTML_LANG[lang or "it"],
            items=items,
            last_build=max((a.modified for a in articles), default=None),
        )
        return self.xml(text, "application/rss+xml; charset=UTF-8", chunked=True)
