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
        byte = int(bits[i:i + 8], 2)
        scan.append(byte)
        if byte == 0xFF:  # byte stuffing
            scan.append(0x00)

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    comment = path.encode("utf-8")[:60000]
    counts = bytes([1] + [0] * 15)
    return b"".join([
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
    ])


def png_bytes(path: str, size: int = 8) -> bytes:
    """A valid solid-colour RGB PNG whose colour and tEXt chunk derive from `path`."""
    colour = bytes.fromhex(_PALETTE[_shade(path) % len(_PALETTE)])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + colour * size for _ in range(size))
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)),
        chunk(b"tEXt", b"Comment\x00" + path.encode("latin-1", "replace")),
        chunk(b"IDAT", zlib.compress(rows, 9)),
        chunk(b"IEND", b""),
    ])


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
    "header", "header__logo", "header__nav", "menu", "menu__item", "menu__link", "mega-menu",
    "mega-menu__column", "search-form", "breadcrumb", "single", "single__header",
    "single__kicker", "single__title", "single__meta", "single__hero", "post__description",
    "post__content", "editorial", "figcaption", "read-also", "post__trends", "share",
    "share__button", "newsletter-box", "related-articles", "card", "card__image", "card__kicker",
    "card__title", "card__excerpt", "card__meta", "sidebar", "most-read", "most-read__item",
    "adv-slot", "comments", "comment-form", "captcha", "footer", "footer__column",
    "footer__bottom", "cookie-banner", "cookie-banner__actions", "cookie-preferences",
    "vendor-list", "archive", "archive__header", "archive__title", "archive__list",
    "pagination", "page-numbers", "home", "home__hero", "home__section", "page__title",
    "error404", "licence", "button", "button--primary", "button--ghost", "icon",
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


@lru_cache(maxsize=4)
def stylesheet(theme: str = "lifegate") -> str:
    """The compiled theme stylesheet (~50 KB for lifegate, smaller for the republisher)."""
    lines = [
        f"/*! {theme} theme v{THEME_VERSION} | compiled stylesheet */",
        (":root{--green:#0b6e4f;--green-light:#08a045;--ink:#1a1a1a;--grey:#4a4a4a;"
        "--paper:#fff;--radius:4px;--container:1240px}"),
        "*,*::before,*::after{box-sizing:border-box}",
        "html{-webkit-text-size-adjust:100%;scroll-behavior:smooth}",
        ("body{margin:0;font-family:Georgia,'Times New Roman',serif;color:var(--ink);"
        "background:var(--paper)}"),
        "img{max-width:100%;height:auto;display:block}",
        "a{color:var(--green);text-decoration:none}a:hover{text-decoration:underline}",
        ".container{max-width:var(--container);margin:0 auto;padding:0 1rem}",
        f".header__logo{{background:url({LIFEGATE_THEME}/images/logo.svg) no-repeat}}",
    ]
    components = _COMPONENTS if theme == "lifegate" else _COMPONENTS[::3]
    for c, name in enumerate(components):
        for p, (prop, values) in enumerate(_PROPS):
            value = values[(c + p) % len(values)]
            lines.append(f".{name}{{{prop}:{value}}}")
            lines.append(f"@media (min-width:768px){{.{name}--md{{{prop}:{values[-1 - c % len(values)]}}}}}")
        lines.append(f".{name}:hover,.{name}:focus-within{{opacity:.92;transition:opacity .2s}}")
    for step in range(48 if theme == "lifegate" else 12):
        rem = step * 0.25
        lines.append(f".u-mt-{step}{{margin-top:{rem}rem!important}}"
                     f".u-mb-{step}{{margin-bottom:{rem}rem!important}}"
                     f".u-px-{step}{{padding-left:{rem}rem!important;padding-right:{rem}rem!important}}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=4)
def script(theme: str = "lifegate") -> str:
    """The theme bundle: a module registry with one small module per component."""
    parts = [f"/*! {theme} v{THEME_VERSION} */", "(function(){'use strict';var m={};",
             "function r(n,f){m[n]=f}function q(s){return document.querySelectorAll(s)}"]
    components = _COMPONENTS if theme == "lifegate" else _COMPONENTS[::4]
    for i, name in enumerate(components):
        ident = name.replace("-", "_")
        parts.append(
            f"r('{name}',function(){{var els=q('.{name}');for(var i=0;i<els.length;i++)"
            f"{{els[i].setAttribute('data-ready','{i}');els[i].addEventListener('click',"
            f"function(e){{window.dataLayer&&window.dataLayer.push({{event:'{ident}_click'}})}})}}}});")
    parts.append("document.addEventListener('DOMContentLoaded',function(){for(var k in m)m[k]()});")
    parts.append("var c=document.getElementById('cookie-banner');if(c&&document.cookie.indexOf"
                 "('lg_consent=')>-1){c.hidden=true}})();")
    return "\n".join(parts) + "\n"


LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 32" width="160" height="32">'
    '<title>LifeGate</title><rect width="160" height="32" fill="none"/>'
    '<path d="M4 4h4v20h10v4H4z" fill="#0b6e4f"/><circle cx="26" cy="8" r="2.5" fill="#0b6e4f"/>'
    '<path d="M24 13h4v15h-4z" fill="#0b6e4f"/>'
    '<text x="34" y="26" font-family="Georgia,serif" font-size="22" fill="#0b6e4f">ifeGate</text>'
    "</svg>\n"
)

MAIN_SITEMAP_XSL = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<xsl:stylesheet version="2.0" xmlns:html="http://www.w3.org/TR/REC-html40" '
    'xmlns:sitemap="http://www.sitemaps.org/schemas/sitemap/0.9" '
    'xmlns:xsl="http://www.w3.org/1999/XSL/Transform">\n'
    '<xsl:output method="html" version="1.0" encoding="UTF-8" indent="yes"/>\n'
    '<xsl:template match="/"><html><head><title>XML Sitemap</title></head><body>'
    '<h1>XML Sitemap</h1><p>Generated by Yoast SEO.</p>'
    '<xsl:for-each select="sitemap:sitemapindex/sitemap:sitemap|sitemap:urlset/sitemap:url">'
    '<p><xsl:value-of select="sitemap:loc"/></p></xsl:for-each></body></html>'
    "</xsl:template>\n</xsl:stylesheet>\n"
)
