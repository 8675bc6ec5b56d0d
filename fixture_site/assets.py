"""Static theme assets and images, generated in code so the fixture ships no binaries.

Each image URL gets distinct bytes: the path is embedded in a comment chunk.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache

THEME_VERSION = "3.8.2"
LIFEGATE_THEME = "/app/themes/lifegate/dist"
REPUBLISHER_THEME = "/wp-content/themes/gratisforgratis"

_PALETTE = ("0b6e4f", "08a045", "6bbf59", "ddb771", "e8eddf", "1d3557", "457b9d", "f4a261")


def _shade(path: str) -> int:
    return hashlib.sha1(path.encode("utf-8")).digest()[0]


def jpeg_bytes(path: str) -> bytes:
    """A valid 8x8 greyscale baseline JPEG whose shade and comment derive from `path`.

    One DC-only block: the DC coefficient of a flat block is 8*(v-128); with an all-ones
    quantisation table and one-symbol Huffman tables that is the whole entropy stream.
    """
    value = 40 + _shade(path) % 176
    diff = 8 * (value - 128)
    size = abs(diff).bit_length()
    extra = diff if diff >= 0 else diff + (1 << size) - 1
    bits = "0" + (format(extra, f"0{size}b") if size else "") + "0"
    bits += "1" * (-len(bits) % 8)
    scan = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i : i + 8], 2)
        scan.append(byte)
        if byte == 0xFF:  # byte stuffing
            scan.append(0x00)

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    comment = path.encode("utf-8")[:60000]
    counts = bytes([1] + [0] * 15)
    return b"".join(
        [
            b"\xff\xd8",
            segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xFFFE, comment),
            segment(0xFFDB, b"\x00" + b"\x01" * 64),
            segment(0xFFC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            segment(0xFFC4, b"\x00" + counts + bytes([size])),
            segment(0xFFC4, b"\x10" + counts + b"\x00"),
            segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes(scan),
            b"\xff\xd9",
        ]
    )


def png_bytes(path: str, size: int = 8) -> bytes:
    """A valid solid-colour RGB PNG whose colour and tEXt chunk derive from `path`."""
    colour = bytes.fromhex(_PALETTE[_shade(path) % len(_PALETTE)])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + colour * size for _ in range(size))
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)),
            chunk(b"tEXt", b"Comment\x00" + path.encode("latin-1", "replace")),
            chunk(b"IDAT", zlib.compress(rows, 9)),
            chunk(b"IEND", b""),
        ]
    )


def image_for(path: str) -> tuple[bytes, str] | None:
    """Bytes and media type for an image path, or None if the extension is not an image."""
    lower = path.lower()
    if lower.endswith((".jpg", ".jpeg")):
        return jpeg_bytes(path), "image/jpeg"
    if lower.endswith(".png"):
        return png_bytes(path), "image/png"
    return None


# Component and utility names of the theme; the stylesheet is generated from them so it
# has the bulk and repetitiveness of a real compiled theme without storing one.
_COMPONENTS = (
    "header",
    "header__logo",
    "header__nav",
    "menu",
    "menu__item",
    "menu__link",
    "mega-menu",
    "mega-menu__column",
    "search-form",
    "breadcrumb",
    "single",
    "single__header",
    "single__kicker",
    "single__title",
    "single__meta",
    "single__hero",
    "post__description",
    "post__content",
    "editorial",
    "figcaption",
    "read-also",
    "post__trends",
    "share",
    "share__button",
    "newsletter-box",
    "related-articles",
    "card",
    "card__image",
    "card__kicker",
    "card__title",
    "card__excerpt",
    "card__meta",
    "sidebar",
    "most-read",
    "most-read__item",
    "adv-slot",
    "comments",
    "comment-form",
    "captcha",
    "footer",
    "footer__column",
    "footer__bottom",
    "cookie-banner",
    "cookie-banner__actions",
    "cookie-preferences",
    "vendor-list",
    "archive",
    "archive__header",
    "archive__title",
    "archive__list",
    "pagination",
    "page-numbers",
    "home",
    "home__hero",
    "home__section",
    "page__title",
    "error404",
    "licence",
    "button",
    "button--primary",
    "button--ghost",
    "icon",
)
_PROPS = (
    ("margin", ("0", "0 auto", ".5rem 0", "1rem 0 1.5rem", "2rem 0")),
    ("padding", ("0", ".25rem .5rem", ".75rem 1rem", "1.5rem", "2rem 1rem")),
    ("font-size", (".75rem", ".875rem", "1rem", "1.125rem", "1.5rem", "2.25rem")),
    ("color", ("#0b6e4f", "#1a1a1a", "#4a4a4a", "#ffffff", "#08a045")),
    ("display", ("block", "flex", "grid", "inline-flex", "none")),
    ("line-height", ("1.2", "1.4", "1.6")),
    ("border-bottom", ("1px solid #e5e5e5", "2px solid #0b6e4f", "0")),
)


FONT_PATH = "/fonts/lifegate-sans.woff2"
PATTERN_PATH = "/images/pattern-leaves.png"

# The hand-written part of the theme: what a reader sees. Root-relative URLs, because the same
# rules are inlined as critical CSS, where relative URLs would resolve against the page.
_LIFEGATE_LAYOUT = f"""
@font-face{{font-family:"Lifegate Sans";font-style:normal;font-weight:400 700;font-display:swap;\
src:url({LIFEGATE_THEME}{FONT_PATH}) format("woff2")}}
:root{{--green:#0b6e4f;--green-light:#08a045;--ink:#1a1a1a;--grey:#4a4a4a;--paper:#fff;\
--line:#e5e5e5;--tint:#eef5f0;--container:1240px;--sans:"Lifegate Sans",Arial,Helvetica,sans-serif}}
*,*::before,*::after{{box-sizing:border-box}}
html{{-webkit-text-size-adjust:100%}}
body{{margin:0;font-family:Georgia,'Times New Roman',serif;font-size:18px;line-height:1.6;\
color:var(--ink);background:var(--paper)}}
img{{max-width:100%;height:auto;display:block}}
a{{color:var(--green);text-decoration:none}}a:hover{{text-decoration:underline}}
[hidden]{{display:none!important}}
.screen-reader-text{{position:absolute!important;width:1px;height:1px;overflow:hidden;\
clip:rect(0 0 0 0);white-space:nowrap}}
.container{{max-width:var(--container);margin:0 auto;padding:0 20px}}
.icon{{width:18px;height:18px;fill:currentColor;vertical-align:middle}}
.header{{background:var(--green);color:#fff}}
.header__inner{{display:flex;align-items:center;gap:28px;height:64px}}
.header__logo{{display:block;flex:0 0 160px;height:40px;padding:4px 8px;border-radius:4px;\
background:#fff url({LIFEGATE_THEME}/images/logo.svg) no-repeat center/140px 28px}}
.header__logo img{{visibility:hidden}}
.header__nav{{flex:1;min-width:0;overflow:hidden}}
.menu{{display:flex;flex-wrap:nowrap;gap:20px;list-style:none;margin:0;padding:0;white-space:nowrap}}
.menu__link{{color:#fff;font-family:var(--sans);font-size:13px;font-weight:700;\
letter-spacing:.04em;text-transform:uppercase}}
.mega-menu{{display:none}}
.search-form{{display:flex}}
.search-form input{{width:150px;padding:6px 10px;border:0;border-radius:4px 0 0 4px;font:14px var(--sans)}}
.search-form button{{border:0;border-radius:0 4px 4px 0;background:#fff;color:var(--green);padding:0 8px}}
.header__lang{{color:#fff;font:700 13px var(--sans);border:1px solid #fff;border-radius:4px;padding:2px 6px}}
.breadcrumb ol{{display:flex;gap:8px;list-style:none;margin:0 auto;padding:14px 20px;\
max-width:var(--container);font:13px var(--sans);color:#777;overflow:hidden;white-space:nowrap}}
.breadcrumb li+li::before{{content:"\\203A";margin-right:8px;color:#aaa}}
.single.container{{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:48px}}
.single__kicker a{{font:700 13px var(--sans);letter-spacing:.06em;text-transform:uppercase;\
color:var(--green-light)}}
.single__title h1{{font-size:40px;line-height:1.15;margin:6px 0 14px}}
.post__description{{font-size:20px;line-height:1.45;color:var(--grey)}}
.post__description p{{margin:0 0 10px}}
.single__meta{{display:flex;gap:14px;margin-top:14px;padding-top:12px;border-top:1px solid var(--line);\
font:14px var(--sans);color:#666}}
.single__hero{{margin:24px 0}}
.single__hero img,.wp-block-image img,.card__image img,.most-read__image img{{width:100%;\
aspect-ratio:3/2;object-fit:cover;background:var(--tint)}}
.figcaption,.wp-element-caption{{display:block;margin-top:6px;font:13px var(--sans);color:#666}}
.figcaption__credit{{color:#999}}
.editorial{{font-size:19px;line-height:1.7}}
.editorial p{{margin:0 0 1.1em}}
.editorial h2,.editorial h3{{font-family:var(--sans);line-height:1.25;margin:1.6em 0 .5em}}
.wp-block-image{{margin:28px 0}}
.wp-block-quote{{margin:28px 0;padding:4px 0 4px 20px;border-left:4px solid var(--green);\
font-style:italic;color:var(--grey)}}
.wp-block-embed{{margin:28px 0}}
.wp-block-embed iframe{{display:block;width:100%;height:220px;border:1px solid var(--line)}}
.read-also{{margin:24px 0;padding:12px 16px;background:var(--tint);border-left:4px solid var(--green);\
font:15px var(--sans)}}
.read-also__label{{font-weight:700;text-transform:uppercase;font-size:12px;letter-spacing:.06em}}
.post__trends{{margin:24px 0;font:13px var(--sans)}}
.post__trends a{{display:inline-block;margin:0 6px 6px 0;padding:2px 12px;border:1px solid var(--green);\
border-radius:16px}}
.post__trends-label{{font-weight:700;margin-right:8px;text-transform:uppercase}}
.share{{display:flex;gap:8px;align-items:center;font:13px var(--sans)}}
.share__button{{display:inline-flex;width:36px;height:36px;border-radius:50%;align-items:center;\
justify-content:center;background:var(--green);color:#fff}}
.newsletter-box{{margin:32px 0;padding:24px;border-radius:6px;\
background:var(--tint) url({LIFEGATE_THEME}{PATTERN_PATH}) repeat;background-size:24px 24px}}
.newsletter-box h3{{margin:0 0 8px;font-family:var(--sans)}}
.newsletter-box input{{padding:8px;border:1px solid #ccc;width:60%}}
.button{{display:inline-block;padding:8px 16px;border:1px solid var(--green);border-radius:4px;\
font:700 14px var(--sans);cursor:pointer}}
.button--primary{{background:var(--green);color:#fff}}
.button--ghost{{background:transparent;color:var(--green)}}
.sidebar{{font-family:var(--sans)}}
.most-read h2,.related-articles h2,.comments h2,.home__latest>h2,.home__section>h2,\
.home__archive>h2,.home__service>h2{{font:700 15px var(--sans);\
text-transform:uppercase;letter-spacing:.06em;border-bottom:2px solid var(--green);padding-bottom:6px}}
.most-read__list{{margin:0;padding-left:20px;font-size:15px;line-height:1.4}}
.most-read__item{{margin-bottom:10px}}
.most-read__image{{margin:0 0 12px}}
.adv-slot{{width:300px;height:250px;margin:24px 0;background:#f2f2f2}}
.related-articles,.comments{{margin-top:40px}}
.related-articles__list,.home__cards{{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:24px}}
.card__kicker{{margin:10px 0 0;font:700 12px var(--sans);text-transform:uppercase;letter-spacing:.05em;\
color:var(--green-light)}}
.card__title{{margin:4px 0 6px;font-size:19px;line-height:1.25}}
.card__title a{{color:var(--ink)}}
.card__excerpt{{margin:0 0 6px;font-size:15px;line-height:1.45;color:var(--grey)}}
.card__meta{{margin:0;font:12px var(--sans);color:#888}}
.home__hero{{margin-top:24px}}
.home__hero .card{{display:grid;grid-template-columns:3fr 2fr;column-gap:32px;align-content:center}}
.home__hero .card__image{{grid-row:1/span 5}}
.home__hero .card__title{{font-size:36px}}
.home__section{{margin-top:40px}}
.home__archive .card,.home__service{{margin-top:16px}}
.home__service{{padding:16px 24px;background:var(--tint) url({LIFEGATE_THEME}{PATTERN_PATH}) repeat;\
background-size:24px 24px;font-family:var(--sans)}}
.archive__header{{padding:16px 20px}}
.archive__title{{margin:0;font-size:34px}}
.archive__description{{color:var(--grey)}}
.archive__body{{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:48px}}
.archive__list{{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:28px}}
.pagination{{display:flex;gap:8px;justify-content:center;margin:32px 0;font-family:var(--sans)}}
.page-numbers{{padding:6px 12px;border:1px solid var(--line)}}
.page-numbers.current{{background:var(--green);color:#fff}}
.comment-form p{{margin:0 0 12px}}
.comment-form label{{display:block;font:13px var(--sans)}}
.comment-form input[type=text],.comment-form input[type=email],.comment-form textarea{{width:100%;\
max-width:640px;padding:8px;border:1px solid #ccc;font:16px Georgia,serif}}
.captcha img{{display:inline-block;vertical-align:middle;margin:0 8px}}
.footer{{margin-top:48px;padding:40px 0 20px;background:#14231c;color:#cfd8d3;font:14px var(--sans)}}
.footer a{{color:#fff}}
.footer h3{{font-size:13px;text-transform:uppercase;letter-spacing:.06em}}
.footer__columns{{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:24px}}
.footer ul{{list-style:none;margin:0;padding:0}}
.footer__bottom{{max-width:var(--container);margin:24px auto 0;padding:16px 20px 0;\
border-top:1px solid #2d3f36;font-size:12px}}
.cookie-banner{{position:fixed;left:0;right:0;bottom:0;z-index:50;display:flex;gap:24px;align-items:center;\
padding:14px 24px;background:#fff;box-shadow:0 -2px 12px rgba(0,0,0,.15);font:13px var(--sans)}}
.cookie-banner__text{{margin:0;flex:1}}
.cookie-banner__actions{{display:flex;gap:8px}}
.page__title{{font-size:36px}}
.error404 .home__cards{{grid-template-columns:repeat(4,minmax(0,1fr))}}
.licence{{font:14px var(--sans);color:#666;border-top:1px solid var(--line);padding-top:12px}}
"""

_REPUBLISHER_LAYOUT = """
@font-face{font-family:"Gfg Display";font-display:swap;src:url(fonts/gfg-display.woff2) format("woff2")}
body{margin:0;font:17px/1.65 Verdana,Geneva,sans-serif;color:#222;background:#f4f1ea}
img{max-width:100%;height:auto;display:block}
a{color:#b5452b}
.cookie-notice{padding:8px 16px;background:#222;color:#eee;font-size:13px}
.cookie-notice__accept{margin-left:12px}
.site-header{display:flex;align-items:center;justify-content:space-between;padding:18px 40px;
background:#b5452b url(images/header-stripes.png) repeat-x;background-size:16px 16px;color:#fff}
.site-title{margin:0;font:700 30px "Gfg Display",Impact,sans-serif}
.site-title a{color:#fff;text-decoration:none}
.main-navigation ul{display:flex;gap:20px;list-style:none;margin:0;padding:0}
.main-navigation a{color:#fff;font-weight:700}
.site-content{display:grid;grid-template-columns:minmax(0,1fr) 280px;gap:40px;max-width:1160px;
margin:28px auto;padding:0 20px}
.site-main{background:#fff;padding:28px 36px;border-radius:4px}
.entry-kicker{font-size:12px;font-weight:700;text-transform:uppercase;color:#b5452b}
.entry-title{font:700 34px/1.2 "Gfg Display",Georgia,serif;margin:6px 0 12px}
.entry-title a{color:#222;text-decoration:none}
.entry-summary{font-size:19px;color:#555}
.entry-meta{font-size:13px;color:#888;margin-bottom:16px}
.post-thumbnail img,.wp-block-image img{width:100%;aspect-ratio:3/2;object-fit:cover;background:#ddd}
.wp-block-image{margin:24px 0}
.wp-element-caption{font-size:13px;color:#777}
.wp-block-quote{border-left:4px solid #b5452b;margin:24px 0;padding-left:16px;font-style:italic}
.entry-footer{font-size:13px;color:#777}
.promo{font-weight:700}
.comments-area{margin-top:32px;border-top:1px solid #ddd}
.comment-form textarea,.comment-form input[type=text],.comment-form input[type=email]{width:100%;
padding:6px;border:1px solid #ccc}
.widget-area{font-size:15px}
.widget-title{font-size:14px;text-transform:uppercase;border-bottom:3px solid #b5452b}
.widget ul{padding-left:18px}
.site-footer{padding:24px 40px;background:#222;color:#bbb;font-size:13px}
.page-header .page-title{margin-top:0}
.post.type-post{border-bottom:1px solid #eee;padding-bottom:12px}
"""


@lru_cache(maxsize=4)
def stylesheet(theme: str = "lifegate") -> str:
    """The compiled theme stylesheet (~50 KB for lifegate, smaller for the republisher).

    The layout rules come first (they are also the inlined critical CSS); the bulk after them is
    component modifier and utility classes the markup does not use, as a compiled theme ships.
    """
    layout = _LIFEGATE_LAYOUT if theme == "lifegate" else _REPUBLISHER_LAYOUT
    lines = [f"/*! {theme} theme v{THEME_VERSION} | compiled stylesheet */", layout.strip()]
    components = _COMPONENTS if theme == "lifegate" else _COMPONENTS[::3]
    for c, name in enumerate(components):
        for p, (prop, values) in enumerate(_PROPS):
            value = values[(c + p) % len(values)]
            lines.append(f".{name}--{prop}-{p}{{{prop}:{value}}}")
            lines.append(
                f"@media (min-width:768px){{.{name}--md{{{prop}:{values[-1 - c % len(values)]}}}}}"
            )
        lines.append(f".{name}--hover:hover,.{name}--hover:focus-within{{opacity:.92}}")
    for step in range(48 if theme == "lifegate" else 12):
        rem = step * 0.25
        lines.append(
            f".u-mt-{step}{{margin-top:{rem}rem!important}}"
            f".u-mb-{step}{{margin-bottom:{rem}rem!important}}"
            f".u-px-{step}{{padding-left:{rem}rem!important;padding-right:{rem}rem!important}}"
        )
    return "\n".join(lines) + "\n"


def font_bytes(path: str) -> bytes:
    """Bytes served as a theme web font: a WOFF2 header and path-derived filler, not a real font.

    Browsers fetch it (so crawls must capture it) and fall back to the next family in the stack.
    """
    return b"wOF2\x00\x01\x00\x00" + hashlib.sha256(path.encode("utf-8")).digest() * 64


@lru_cache(maxsize=4)
def script(theme: str = "lifegate") -> str:
    """The theme bundle: a module registry with one small module per component."""
    parts = [
        f"/*! {theme} v{THEME_VERSION} */",
        "(function(){'use strict';var m={};",
        "function r(n,f){m[n]=f}function q(s){return document.querySelectorAll(s)}",
    ]
    components = _COMPONENTS if theme == "lifegate" else _COMPONENTS[::4]
    for i, name in enumerate(components):
        ident = name.replace("-", "_")
        parts.append(
            f"r('{name}',function(){{var els=q('.{name}');for(var i=0;i<els.length;i++)"
            f"{{els[i].setAttribute('data-ready','{i}');els[i].addEventListener('click',"
            f"function(e){{window.dataLayer&&window.dataLayer.push({{event:'{ident}_click'}})}})}}}});"
        )
    parts.append("document.addEventListener('DOMContentLoaded',function(){for(var k in m)m[k]()});")
    parts.append(
        "var c=document.getElementById('cookie-banner');if(c&&document.cookie.indexOf"
        "('lg_consent=')>-1){c.hidden=true}})();"
    )
    return "\n".join(parts) + "\n"


LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 32" width="160" height="32">'
    '<title>LifeGate</title><rect width="160" height="32" fill="none"/>'
    '<path d="M4 4h4v20h10v4H4z" fill="#0b6e4f"/><circle cx="26" cy="8" r="2.5" fill="#0b6e4f"/>'
    '<path d="M24 13h4v15h-4z" fill="#0b6e4f"/>'
    '<text x="34" y="26" font-family="Georgia,serif" font-size="22" fill="#0b6e4f">feGate</text>'
    "</svg>\n"
)

MAIN_SITEMAP_XSL = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<xsl:stylesheet version="2.0" xmlns:html="http://www.w3.org/TR/REC-html40" '
    'xmlns:sitemap="http://www.sitemaps.org/schemas/sitemap/0.9" '
    'xmlns:xsl="http://www.w3.org/1999/XSL/Transform">\n'
    '<xsl:output method="html" version="1.0" encoding="UTF-8" indent="yes"/>\n'
    '<xsl:template match="/"><html><head><title>XML Sitemap</title></head><body>'
    "<h1>XML Sitemap</h1><p>Generated by Yoast SEO.</p>"
    '<xsl:for-each select="sitemap:sitemapindex/sitemap:sitemap|sitemap:urlset/sitemap:url">'
    '<p><xsl:value-of select="sitemap:loc"/></p></xsl:for-each></body></html>'
    "</xsl:template>\n</xsl:stylesheet>\n"
)
