"""Rewriting of archived HTML and CSS so that every link, image, stylesheet, script and form points
at its archived copy (``/web/<timestamp>mp_/<absolute URL>``), never at the live web.

Only the URL-bearing parts change; every other byte of the document is kept as captured.
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# Schemes and forms that never leave the page or never load anything: left as they are.
_INERT = ("#", "javascript:", "data:", "blob:", "about:", "mailto:", "tel:", "sms:")

# Attributes holding one URL (HTML Living Standard attribute index, plus legacy ones).
_URL_ATTRS = frozenset(
    {"href", "src", "action", "formaction", "poster", "background", "cite", "lowsrc",
     "xlink:href", "manifest", "longdesc", "usemap"}
)  # fmt: skip
_SRCSET_ATTRS = frozenset({"srcset", "imagesrcset"})
# Lazy-loading plugins keep the real image in data-* attributes until their script swaps it in;
# the script copies the value as written, so it is rewritten like the attribute it becomes.
_LAZY_URL_ATTRS = frozenset({"data-src", "data-lazy-src", "data-original", "data-bg"})
_LAZY_SRCSET_ATTRS = frozenset({"data-srcset", "data-lazy-srcset"})
_IMAGE_TAGS = frozenset({"img", "source"})
# Subresource Integrity fails on rewritten CSS and on any fetch from the sandbox's opaque origin
# without CORS; the value is kept under another name, as pywb does.
_RENAMED_ATTRS = {"integrity": "_integrity"}

_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<url>[^'")]*?)(?P=q)\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?P<q>['"])(?P<url>[^'"]*)(?P=q)""", re.IGNORECASE)
_META_REFRESH_URL = re.compile(r"""(?P<pre>;\s*url\s*=\s*['"]?)(?P<url>[^'"]*)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
CSS_TYPES = frozenset({"text/css"})


class UrlRewriter:
    """Maps the URLs found in one archived document to replay URLs at one timestamp.

    ``base_url`` is the document's own URL (relative URLs resolve against it, or against its
    ``<base href>`` once seen); anything that is not http(s) after resolution is left alone.

    ``archived``, when given, says whether the archive holds a usable capture of an absolute
    URL: image candidates it does not hold are then left out of ``srcset`` and replaced in
    ``src``/``data-src`` by one it does, so a browser never asks for a candidate that is missing.
    """

    def __init__(
        self,
        base_url: str,
        timestamp: str,
        *,
        prefix: str = "/web/",
        modifier: str = "mp_",
        archived: Callable[[str], bool] | None = None,
    ) -> None:
        self.base_url = base_url
        self.timestamp = timestamp
        self.prefix = prefix
        self.modifier = modifier
        self._archived = archived
        self._known: dict[str, bool] = {}
        # A document names the same URLs again and again (src, srcset, fallbacks): each is
        # resolved once per base URL.
        self._absolute: dict[tuple[str, str], str | None] = {}
        self._rewritten: dict[tuple[str, str], str] = {}

    def absolute(self, url: str) -> str | None:
        """The http(s) URL a reference in the document names, or None for anything else."""
        key = (self.base_url, url)
        if key not in self._absolute:
            self._absolute[key] = self._resolve(url)
        return self._absolute[key]

    def _resolve(self, url: str) -> str | None:
        stripped = url.strip()
        if not stripped or stripped.lower().startswith(_INERT):
            return None
        try:
            absolute = urljoin(self.base_url, stripped)
            scheme = urlsplit(absolute).scheme.lower()
        except ValueError:
            return None
        return absolute if scheme in ("http", "https") else None

    def is_archived(self, url: str) -> bool:
        """Whether ``url`` (as written in the document) can be replayed; True when not known."""
        if self._archived is None:
            return True
        absolute = self.absolute(url)
        if absolute is None:
            return True  # data: and other inert references never reach the archive
        if absolute not in self._known:
            self._known[absolute] = self._archived(absolute)
        return self._known[absolute]

    def replay_url(self, absolute_url: str, modifier: str | None = None) -> str:
        mod = self.modifier if modifier is None else modifier
        return f"{self.prefix}{self.timestamp}{mod}/{absolute_url}"

    def rewrite(self, url: str) -> str:
        key = (self.base_url, url)
        if key not in self._rewritten:
            self._rewritten[key] = self._replay(url)
        return self._rewritten[key]

    def _replay(self, url: str) -> str:
        stripped = url.strip()
        if not stripped or stripped.lower().startswith(_INERT):
            return url
        try:
            absolute = urljoin(self.base_url, stripped)
            scheme = urlsplit(absolute).scheme.lower()
        except ValueError:
            # Unparseable: send it to the archive, which answers 4xx; never to the network.
            return self.replay_url(stripped)
        # Other schemes (ws:, ftp:, app links) load nothing the CSP would let through.
        return self.replay_url(absolute) if scheme in ("http", "https") else url


def rewrite_css(text: str, rewriter: UrlRewriter) -> str:
    """``url(...)`` and ``@import "..."`` references of a stylesheet or style attribute."""

    def url_sub(match: re.Match[str]) -> str:
        q = match.group("q")
        return f"url({q}{rewriter.rewrite(match.group('url'))}{q})"

    def import_sub(match: re.Match[str]) -> str:
        q = match.group("q")
        return f"@import {q}{rewriter.rewrite(match.group('url'))}{q}"

    return _CSS_IMPORT.sub(import_sub, _CSS_URL.sub(url_sub, text))


def srcset_candidates(value: str) -> list[tuple[str, str]]:
    """(URL, descriptor) of each candidate of a ``srcset`` (HTML §4.8.4.3.1), in order."""
    out = []
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        if pos >= end:
            break
        stop = pos
        while stop < end and not value[stop].isspace():
            stop += 1
        url, pos = value[pos:stop], stop
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            comma = value.find(",", pos)
            comma = end if comma < 0 else comma
            descriptor, pos = value[pos:comma].strip(), comma + 1
        out.append((url, descriptor))
    return out


def css_urls(text: str) -> list[str]:
    """The ``url(...)`` and ``@import "..."`` references of a stylesheet or style attribute."""
    return [m.group("url") for m in _CSS_IMPORT.finditer(text)] + [
        m.group("url") for m in _CSS_URL.finditer(text)
    ]


def rewrite_srcset(value: str, rewriter: UrlRewriter) -> str:
    """Each candidate URL of a ``srcset``, descriptors kept; candidates not archived left out."""
    out = [
        rewriter.rewrite(url) + (f" {descriptor}" if descriptor else "")
        for url, descriptor in srcset_candidates(value)
        if rewriter.is_archived(url)
    ]
    return ", ".join(out)


def rewrite_srcset_all(value: str, rewriter: UrlRewriter) -> str:
    """Every candidate rewritten, archived or not: to the archive, never to the live web."""
    return ", ".join(
        rewriter.rewrite(url) + (f" {descriptor}" if descriptor else "")
        for url, descriptor in srcset_candidates(value)
    )


def candidate_width(descriptor: str) -> float:
    """A candidate's width (or density) for ordering; a bare URL counts as 1x."""
    try:
        return float(descriptor[:-1]) if descriptor[-1:] in ("w", "x") else 1.0
    except ValueError:
        return 0.0


def archived_fallback(attrs: dict[str, str | None], rewriter: UrlRewriter) -> str | None:
    """The largest image of an element's candidates that the archive holds, as written."""
    found: list[tuple[float, str]] = []
    for name in ("src", *_LAZY_URL_ATTRS):
        value = attrs.get(name)
        if value and rewriter.absolute(value) and rewriter.is_archived(value):
            found.append((0.0, value))
    for name in ("srcset", *_LAZY_SRCSET_ATTRS):
        for url, descriptor in srcset_candidates(attrs.get(name) or ""):
            if rewriter.absolute(url) and rewriter.is_archived(url):
                found.append((candidate_width(descriptor), url))
    return max(found)[1] if found else None


class _HtmlRewriter(HTMLParser):
    """Collects (start, end, replacement) edits of tags and style content over the source text."""

    def __init__(self, text: str, rewriter: UrlRewriter) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.rewriter = rewriter
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.edits: list[tuple[int, int, str]] = []
        self.base_seen = False
        self.in_style = False

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _rewrite_attr(self, tag: str, name: str, value: str, attrs: dict[str, str | None]) -> str:
        image = tag in _IMAGE_TAGS
        if name in _SRCSET_ATTRS or (image and name in _LAZY_SRCSET_ATTRS):
            rewritten = rewrite_srcset(value, self.rewriter)
            if rewritten or tag != "img":
                return rewritten  # an emptied <source> is skipped by the browser, as it should be
            fallback = archived_fallback(attrs, self.rewriter)
            return (
                self.rewriter.rewrite(fallback)
                if fallback
                else rewrite_srcset_all(value, self.rewriter)
            )
        if image and (name == "src" or name in _LAZY_URL_ATTRS):
            if not self.rewriter.is_archived(value):
                value = archived_fallback(attrs, self.rewriter) or value
            return self.rewriter.rewrite(value)
        if name in _LAZY_URL_ATTRS or name in _LAZY_SRCSET_ATTRS:
            if name in _LAZY_SRCSET_ATTRS:
                return rewrite_srcset_all(value, self.rewriter)
            return self.rewriter.rewrite(value)
        if name == "style":
            return rewrite_css(value, self.rewriter)
        if name == "ping":
            return " ".join(self.rewriter.rewrite(url) for url in value.split())
        if name == "data" and tag == "object":
            return self.rewriter.rewrite(value)
        refresh = (attrs.get("http-equiv") or "").lower() == "refresh"
        if name == "content" and tag == "meta" and refresh:
            return _META_REFRESH_URL.sub(
                lambda m: m.group("pre") + self.rewriter.rewrite(m.group("url")), value
            )
        if name in _URL_ATTRS:
            return self.rewriter.rewrite(value)
        return value

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not attrs:  # most tags of a page (<p>, <li>, <div>): nothing to rewrite
            if tag == "style":
                self.in_style = True
            return
        raw = self.get_starttag_text() or ""
        lookup = {name: value for name, value in attrs}
        if tag == "base" and not self.base_seen and lookup.get("href"):
            # HTML §4.2.3: the first <base href> sets the document base URL for what follows.
            self.base_seen = True
            self.rewriter.base_url = urljoin(self.rewriter.base_url, (lookup["href"] or "").strip())
        changed = False
        out = []
        for name, value in attrs:
            new_name = _RENAMED_ATTRS.get(name, name)
            new_value = value if value is None else self._rewrite_attr(tag, name, value, lookup)
            changed = changed or new_name != name or new_value != value
            out.append((new_name, new_value))
        if tag == "style":
            self.in_style = True
        if not changed:
            return
        parts = [f"<{tag}"]
        for name, value in out:
            parts.append(f" {name}" if value is None else f' {name}="{html.escape(value)}"')
        parts.append(" />" if raw.rstrip().endswith("/>") else ">")
        self._edit(raw, "".join(parts))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)
        self.in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            rewritten = rewrite_css(data, self.rewriter)
            if rewritten != data:
                self._edit(data, rewritten)

    def _edit(self, original: str, replacement: str) -> None:
        start = self._offset()
        # The parser reports positions, not spans: check the span holds what it parsed.
        if self.text.startswith(original, start):
            self.edits.append((start, start + len(original), replacement))


def rewrite_html(text: str, rewriter: UrlRewriter) -> str:
    """The document with URL attributes, ``<style>`` blocks and style attributes rewritten."""
    parser = _HtmlRewriter(text, rewriter)
    parser.feed(text)
    parser.close()
    out, last = [], 0
    for start, end, replacement in sorted(parser.edits):
        if start < last:
            continue  # overlapping edit: keep the original bytes rather than corrupt them
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def document_charset(body: bytes, content_type: str | None) -> str:
    """The charset of an HTML or CSS body: BOM, then the header, then ``<meta>``, then UTF-8."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if body.startswith(bom):
            return name
    candidates = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        candidates.append(m.group(1))
    if meta := _META_CHARSET.search(body[:4096]):
        candidates.append(meta.group(1).decode("ascii"))
    for name in candidates:
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "utf-8"


def rewrite_body(
    body: bytes, mime: str, content_type: str | None, rewriter: UrlRewriter
) -> bytes | None:
    """Rewritten HTML or CSS bytes in the document's own charset, or None for other types."""
    if mime not in HTML_TYPES and mime not in CSS_TYPES:
        return None
    charset = document_charset(body, content_type)
    # surrogateescape keeps bytes that are invalid in the charset exactly as they were.
    errors = "surrogateescape" if not charset.startswith("utf-16") else "replace"
    text = body.decode(charset, errors)
    text = rewrite_html(text, rewriter) if mime in HTML_TYPES else rewrite_css(text, rewriter)
    try:
        return text.encode(charset, errors)
    except UnicodeEncodeError:
        return text.encode(charset, "replace")
