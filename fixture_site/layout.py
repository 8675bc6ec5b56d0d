"""Page chrome of the LifeGate WordPress theme: head, menus, consent banner, footer, scripts.

It makes a page 100-200 KB around a few KB of article, and is built once per site.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cached_property
from html import escape

from fixture_site.assets import LIFEGATE_THEME, THEME_VERSION, stylesheet
from fixture_site.prose import slugify

HTML_LANG = {"it": "it-IT", "en": "en-US", "de": "de-DE", "fr": "fr-FR"}
OG_LOCALE = {"it": "it_IT", "en": "en_US", "de": "de_DE", "fr": "fr_FR"}

_MONTHS = {
    "it": (
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}

LABELS = {
    "it": {
        "site_name": "LifeGate",
        "home": "Home",
        "skip": "Vai al contenuto",
        "tagline": "Notizie e approfondimenti su ambiente, energia, alimentazione e diritti",
        "read_also": "Leggi anche",
        "trends": "Trend",
        "share": "Condividi",
        "by": "di",
        "newsletter_title": "Iscriviti alla newsletter di LifeGate",
        "newsletter_text": "Ogni settimana le notizie più importanti su ambiente, energia e "
        "sostenibilità, direttamente nella tua casella di posta.",
        "newsletter_button": "Iscriviti",
        "related": "Articoli correlati",
        "most_read": "I più letti",
        "comments": "Lascia un commento",
        "name": "Nome",
        "email": "Email",
        "comment": "Commento",
        "captcha": "Inserisci il codice CAPTCHA",
        "submit": "Invia commento",
        "cookie_text": "Questo sito utilizza cookie tecnici e, previo tuo consenso, cookie di "
        "profilazione e di terze parti per migliorare la tua esperienza e "
        "mostrarti contenuti in linea con le tue preferenze.",
        "accept": "Accetta tutti",
        "reject": "Rifiuta",
        "customise": "Personalizza",
        "vendors": "I nostri partner",
        "next": "Successivi",
        "prev": "Precedenti",
        "page": "Pagina",
        "search": "Cerca su LifeGate",
        "latest": "Ultime notizie",
        "archive": "Dall'archivio",
        "categories": "Categorie",
        "author": "Articoli di {}",
        "tag": "Trend: {}",
        "not_found": "Pagina non trovata",
        "not_found_text": "Ci dispiace, la pagina che stai cercando non esiste o è stata spostata.",
        "gone": "Contenuto rimosso",
        "gone_text": "Questo articolo è stato rimosso dalla redazione.",
        "copyright": "© 2024 LifeGate S.p.A. Società Benefit \u2013 P.IVA 01234567890. "
        "Tutti i diritti riservati.",
        "follow": "Seguici",
        "published": "Pubblicato il",
        "updated": "Aggiornato il",
        "preview": "Anteprima riservata alla redazione",
        "service": "Link di servizio",
    },
    "en": {
        "site_name": "LifeGate",
        "home": "Home",
        "skip": "Skip to content",
        "tagline": "News and insight on the environment, energy, food and human rights",
        "read_also": "Read also",
        "trends": "Trends",
        "share": "Share",
        "by": "by",
        "newsletter_title": "Subscribe to the LifeGate newsletter",
        "newsletter_text": "Every week the most important news on the environment, energy "
        "and sustainability, straight to your inbox.",
        "newsletter_button": "Subscribe",
        "related": "Related articles",
        "most_read": "Most read",
        "comments": "Leave a comment",
        "name": "Name",
        "email": "Email",
        "comment": "Comment",
        "captcha": "Enter the CAPTCHA code",
        "submit": "Post comment",
        "cookie_text": "This website uses technical cookies and, with your consent, profiling "
        "and third-party cookies to improve your experience and show you "
        "content in line with your preferences.",
        "accept": "Accept all",
        "reject": "Reject",
        "customise": "Customise",
        "vendors": "Our partners",
        "next": "Next",
        "prev": "Previous",
        "page": "Page",
        "search": "Search LifeGate",
        "latest": "Latest news",
        "archive": "From the archive",
        "categories": "Categories",
        "author": "Articles by {}",
        "tag": "Trend: {}",
        "not_found": "Page not found",
        "not_found_text": "Sorry, the page you are looking for does not exist or has been moved.",
        "gone": "Content removed",
        "gone_text": "This article has been removed by the editors.",
        "copyright": "© 2024 LifeGate S.p.A. Società Benefit \u2013 VAT 01234567890. "
        "All rights reserved.",
        "follow": "Follow us",
        "published": "Published on",
        "updated": "Updated on",
        "preview": "Editorial preview",
        "service": "Service links",
    },
}

_VENDOR_HEADS = (
    "Adnexa",
    "Brightpath",
    "Clearbid",
    "Datalume",
    "Everreach",
    "Fluxmedia",
    "Gridsense",
    "Horizon",
    "Inkwell",
    "Juniper",
    "Keystone",
    "Lumen",
)
_VENDOR_TAILS = ("Media", "Analytics", "Advertising", "Audience", "Metrics", "Exchange", "Labs")
_PURPOSES = {
    "it": (
        "Archiviare e/o accedere a informazioni su un dispositivo",
        "Utilizzare dati limitati per selezionare la pubblicità",
        "Creare profili per la pubblicità personalizzata",
        "Misurare le prestazioni della pubblicità",
        "Comprendere il pubblico attraverso statistiche",
    ),
    "en": (
        "Store and/or access information on a device",
        "Use limited data to select advertising",
        "Create profiles for personalised advertising",
        "Measure advertising performance",
        "Understand audiences through statistics",
    ),
}


def esc(text: str) -> str:
    return escape(text, quote=False)


def attr(text: str) -> str:
    return escape(text, quote=True)


def display_date(when: datetime, lang: str) -> str:
    month = _MONTHS[lang][when.month - 1]
    if lang == "en":
        return f"{month} {when.day}, {when.year}"
    if lang == "de":
        return f"{when.day}. {month} {when.year}"
    return f"{when.day} {month} {when.year}"


def w3c(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


class Links:
    """Absolute URLs of one LifeGate site; WordPress prints absolute links everywhere."""

    def __init__(self, base: str) -> None:
        self.base = base

    def to(self, path: str) -> str:
        return self.base + path

    def home(self) -> str:
        return self.base + "/"

    def category(self, slug: str, page: int = 1) -> str:
        return self._paged(f"/category/{slug}/", page)

    def tag(self, name: str, page: int = 1) -> str:
        return self._paged(f"/tag/{slugify(name)}/", page)

    def author(self, name: str, page: int = 1) -> str:
        return self._paged(f"/author/{slugify(name)}/", page)

    def old_form(self, path: str) -> str:
        """The pre-2020 URL of an article, which the site still redirects."""
        return f"{self.base}/persone/news{path}"

    def asset(self, rel: str) -> str:
        return f"{self.base}{LIFEGATE_THEME}{rel}?ver={THEME_VERSION}"

    def _paged(self, path: str, page: int) -> str:
        return self.base + path + ("" if page == 1 else f"page/{page}/")


# What lazy-loading plugins put in src until their script swaps data-src in: a 1x1 GIF.
PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

# The swap itself, inline at the end of the body as lazy-loading plugins print it; images keep
# loading=lazy so the browser still defers the ones far below the fold.
LAZY_SCRIPT = (
    "<script id=\"lazyload-js\">(function(d){function swap(el){var s=el.getAttribute('data-srcset'),"
    "u=el.getAttribute('data-src');if(s){el.setAttribute('srcset',s)}if(u){el.setAttribute('src',u)}"
    "el.classList.remove('lazyload');el.classList.add('lazyloaded')}"
    "var els=d.querySelectorAll('.lazyload, source[data-srcset]');"
    "for(var i=0;i<els.length;i++){swap(els[i])}})(document);</script>"
)


def resized(src: str, width: int, height: int) -> str:
    """WordPress's name for an intermediate size of an uploaded image."""
    return f"{src.rsplit('.', 1)[0]}-{width}x{height}.jpg"


def srcset(base: str, src: str) -> str:
    return ", ".join(
        [
            f"{base}{resized(src, 300, 200)} 300w",
            f"{base}{resized(src, 768, 512)} 768w",
            f"{base}{resized(src, 1024, 683)} 1024w",
            f"{base}{src} 1200w",
        ]
    )


def lazy_img(
    src: str, srcset_value: str, *, sizes: str, alt: str, width: int, height: int, extra: str = ""
) -> str:
    """An image as lazy-loading plugins print it: placeholder src, the real one in data-*."""
    return (
        f'<img class="lazyload" loading="lazy" decoding="async" src="{PLACEHOLDER}" '
        f'data-src="{attr(src)}" data-srcset="{attr(srcset_value)}" sizes="{attr(sizes)}" '
        f'alt="{attr(alt)}" width="{width}" height="{height}"{extra}>'
    )


def _pseudo_path(seed: str) -> str:
    """Deterministic icon outline: a closed polyline of 24 points in a 24x24 box."""
    digest = hashlib.sha256(seed.encode()).digest() + hashlib.sha256(seed.encode() * 2).digest()
    points = [f"{digest[i] % 240 / 10:.1f} {digest[i + 1] % 240 / 10:.1f}" for i in range(0, 48, 2)]
    return "M" + " L".join(points) + "Z"


class Theme:
    """Chrome of the LifeGate theme for one site ("it" or "en") at one base URL."""

    ICONS = (
        "facebook",
        "x",
        "instagram",
        "linkedin",
        "youtube",
        "whatsapp",
        "telegram",
        "mail",
        "search",
        "menu",
        "close",
        "arrow-right",
        "arrow-left",
        "play",
        "podcast",
        "clock",
        "user",
        "comment",
        "bookmark",
        "share",
        "print",
        "leaf",
        "sun",
        "wind",
        "drop",
        "bike",
        "train",
        "fork",
        "globe",
        "heart",
    )

    def __init__(
        self,
        site: str,
        base: str,
        menu: Sequence[tuple[str, str, Sequence[str]]],
        static_pages: Sequence[tuple[str, str]],
        alternate_home: str | None,
    ) -> None:
        self.site = site
        self.lang = "it" if site == "it" else "en"
        self.labels = LABELS[self.lang]
        self.links = Links(base)
        self.menu = menu
        self.static_pages = static_pages
        self.alternate_home = alternate_home

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    @cached_property
    def critical_css(self) -> str:
        css = stylesheet("lifegate")
        return css[: css.rfind("}", 0, 26000) + 1]

    @cached_property
    def sprite(self) -> str:
        symbols = "".join(
            f'<symbol id="icon-{name}" viewBox="0 0 24 24"><path d="{_pseudo_path(name)}"/>'
            f'<path d="{_pseudo_path(name + "-detail")}" opacity=".6"/></symbol>'
            for name in self.ICONS
        )
        return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{symbols}</svg>'

    @cached_property
    def config_script(self) -> str:
        slots = [
            {
                "id": f"div-gpt-ad-{1700000000000 + i * 7919}-0",
                "path": f"/21809957681/lifegate/{self.lang}/{['top', 'mid', 'bottom'][i % 3]}_{i}",
                "sizes": [[300, 250], [336, 280], [728, 90], [970, 250]][: 2 + i % 3],
                "lazy": i > 2,
                "refresh": 30 + (i % 4) * 15,
            }
            for i in range(48)
        ]
        config = {
            "ajaxUrl": self.links.to("/wp-admin/admin-ajax.php"),
            "restUrl": self.links.to("/wp-json/"),
            "locale": self.html_lang,
            "themeVersion": THEME_VERSION,
            "adSlots": slots,
            "menu": [
                {"slug": slug, "label": label, "trends": list(trends)}
                for slug, label, trends in self.menu
            ],
            "i18n": self.labels,
        }
        return (
            '<script id="lifegate-config">window.lifegate='
            + json.dumps(config, ensure_ascii=False, separators=(",", ":"))
            + ";</script>"
        )

    @cached_property
    def header(self) -> str:
        links, labels = self.links, self.labels
        columns = []
        for slug, label, trends in self.menu:
            items = "".join(
                f'<li class="menu__item"><a class="menu__link" href="{attr(links.tag(t))}">'
                f"{esc(t)}</a></li>"
                for t in trends
            )
            columns.append(
                f'<li class="menu__item menu__item--has-children"><a class="menu__link" '
                f'href="{attr(links.category(slug))}">{esc(label)}</a>'
                f'<div class="mega-menu"><ul class="mega-menu__column">{items}</ul></div></li>'
            )
        lang_switch = (
            f'<a class="header__lang" hreflang="{"en" if self.lang == "it" else "it"}" '
            f'href="{attr(self.alternate_home)}">{"EN" if self.lang == "it" else "IT"}</a>'
            if self.alternate_home
            else ""
        )
        return (
            '<header class="header" id="masthead"><div class="container header__inner">'
            f'<a class="header__logo" href="{attr(links.home())}" rel="home">'
            f'<img src="{attr(links.asset("/images/logo.svg"))}" alt="LifeGate" width="160" height="32"></a>'
            f'<nav class="header__nav" aria-label="Menu principale"><ul class="menu">{"".join(columns)}</ul></nav>'
            f'<form class="search-form" role="search" action="{attr(links.home())}" method="get">'
            f'<input type="search" name="s" placeholder="{attr(labels["search"])}">'
            '<button type="submit"><svg class="icon"><use href="#icon-search"/></svg></button></form>'
            f"{lang_switch}</div></header>"
        )

    @cached_property
    def cookie_banner(self) -> str:
        labels = self.labels
        return (
            '<div id="cookie-banner" class="cookie-banner" role="dialog" aria-live="polite">'
            f'<p class="cookie-banner__text">{esc(labels["cookie_text"])}</p>'
            '<div class="cookie-banner__actions">'
            f'<button type="button" class="button button--primary" data-consent="accept">{esc(labels["accept"])}</button>'
            f'<button type="button" class="button button--ghost" data-consent="reject">{esc(labels["reject"])}</button>'
            f'<button type="button" class="button button--ghost" data-consent="customise">{esc(labels["customise"])}</button>'
            "</div></div>"
        )

    @cached_property
    def consent_modal(self) -> str:
        purposes = _PURPOSES[self.lang]
        vendors = []
        for i in range(84):
            name = f"{_VENDOR_HEADS[i % 12]} {_VENDOR_TAILS[(i * 5 + i // 12) % 7]}"
            chosen = "".join(f"<li>{esc(purposes[(i + k) % 5])}</li>" for k in range(1 + i % 4))
            vendors.append(
                f'<li class="vendor-list__item" data-vendor-id="{i + 11}"><strong>{esc(name)}</strong>'
                f'<ul class="vendor-list__purposes">{chosen}</ul>'
                f'<span class="vendor-list__retention" data-days="{30 + i * 11 % 365}"></span>'
                f'<label class="vendor-list__toggle"><input type="checkbox" name="vendor_{i + 11}"> '
                f"{esc(self.labels['accept'])}</label></li>"
            )
        return (
            f'<div id="cookie-preferences" class="cookie-preferences" hidden><h2>'
            f'{esc(self.labels["vendors"])}</h2><ul class="vendor-list">{"".join(vendors)}</ul></div>'
        )

    @cached_property
    def footer(self) -> str:
        links, labels = self.links, self.labels
        cats = "".join(
            f'<li><a href="{attr(links.category(slug))}">{esc(label)}</a></li>'
            for slug, label, _ in self.menu
        )
        pages = "".join(
            f'<li><a href="{attr(links.to(path))}">{esc(title)}</a></li>'
            for path, title in self.static_pages
        )
        trends = "".join(
            f'<li><a href="{attr(links.tag(t))}">{esc(t)}</a></li>'
            for _, _, ts in self.menu
            for t in ts[:2]
        )
        social = "".join(
            f'<li><a href="https://www.{net}.com/lifegate" rel="noopener" target="_blank">'
            f'<svg class="icon"><use href="#icon-{icon}"/></svg>{net.title()}</a></li>'
            for net, icon in (
                ("facebook", "facebook"),
                ("instagram", "instagram"),
                ("linkedin", "linkedin"),
                ("youtube", "youtube"),
            )
        )
        return (
            '<footer class="footer" id="colophon"><div class="container footer__columns">'
            f'<div class="footer__column"><h3>{esc(labels["categories"])}</h3><ul>{cats}</ul></div>'
            f'<div class="footer__column"><h3>{esc(labels["trends"])}</h3><ul>{trends}</ul></div>'
            f'<div class="footer__column"><h3>LifeGate</h3><ul>{pages}</ul></div>'
            f'<div class="footer__column"><h3>{esc(labels["follow"])}</h3><ul>{social}</ul></div></div>'
            f'<div class="footer__bottom"><p>{esc(labels["copyright"])}</p>'
            f'<p><a href="{attr(links.to("/feed"))}">RSS</a></p></div></footer>'
        )

    @cached_property
    def tail_scripts(self) -> str:
        return (
            LAZY_SCRIPT
            + f'<script src="{attr(self.links.asset("/scripts/main.js"))}" id="lifegate-main-js"></script>'
            "<script>(function(w,d){w.dataLayer=w.dataLayer||[];w.dataLayer.push({'gtm.start':"
            "new Date().getTime(),event:'gtm.js'});var b=d.getElementById('cookie-banner');"
            "if(!b)return;b.addEventListener('click',function(e){var c=e.target.getAttribute("
            "'data-consent');if(!c)return;d.cookie='lg_consent='+c+';path=/;max-age=15552000';"
            "b.hidden=true})})(window,document);</script>"
        )

    def document(self, *, title: str, head: str, body_class: str, main: str) -> str:
        links, labels = self.links, self.labels
        return "".join(
            [
                f'<!doctype html>\n<html lang="{self.html_lang}" prefix="og: https://ogp.me/ns#">\n<head>\n',
                '<meta charset="UTF-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n',
                f"<title>{esc(title)}</title>\n",
                head,
                f'<link rel="alternate" type="application/rss+xml" title="LifeGate &raquo; Feed" href="{attr(links.to("/feed"))}">\n',
                f'<link rel="https://api.w.org/" href="{attr(links.to("/wp-json/"))}">\n',
                f'<link rel="icon" href="{attr(links.asset("/images/favicon.png"))}" sizes="32x32">\n',
                f'<style id="critical-css">{self.critical_css}</style>\n',
                f'<link rel="stylesheet" id="lifegate-main-css" href="{attr(links.asset("/styles/main.css"))}" media="all">\n',
                self.config_script,
                "\n</head>\n",
                f'<body class="{attr(body_class)}">\n',
                self.sprite,
                "\n",
                f'<a class="skip-link screen-reader-text" href="#main">{esc(labels["skip"])}</a>\n',
                self.cookie_banner,
                "\n",
                self.header,
                "\n",
                main,
                "\n",
                self.footer,
                "\n",
                self.consent_modal,
                "\n",
                self.tail_scripts,
                "\n</body>\n</html>\n",
            ]
        )


def thumbnail_link(links, css_class: str, href: str, src: str, sizes: str) -> str:
    """A linked 300x200 lazy thumbnail of an article's hero image, with its ``srcset``."""
    return (
        f'<a class="{css_class}" href="{attr(href)}" tabindex="-1">'
        + lazy_img(
            links.to(resized(src, 300, 200)),
            srcset(links.base, src),
            sizes=sizes,
            alt="",
            width=300,
            height=200,
        )
        + "</a>"
    )


def card(theme: Theme, article, *, old_form: bool = False, heading: str = "h3") -> str:
    """Teaser card used by listings, the home page and related-article boxes."""
    links = theme.links
    href = links.old_form(article.path) if old_form else links.to(article.path)
    image = ""
    if article.hero:
        image = thumbnail_link(
            links, "card__image", href, article.hero["src"], "(max-width: 767px) 100vw, 300px"
        )
    excerpt = (
        f'<p class="card__excerpt">{esc(article.standfirst[0])}</p>'
        if getattr(article, "standfirst", None)
        else ""
    )
    return (
        f'<article class="card" data-post-id="{article.post_id}">{image}'
        f'<p class="card__kicker">{esc(article.kicker)}</p>'
        f'<{heading} class="card__title"><a href="{attr(href)}">{esc(article.title)}</a></{heading}>'
        f'{excerpt}<p class="card__meta"><time datetime="{w3c(article.published)}">'
        f"{display_date(article.published, theme.lang)}</time></p></article>"
    )


def card_list(theme: Theme, articles: Iterable, **kwargs) -> str:
    return "".join(card(theme, a, **kwargs) for a in articles)
