"""Reading sitemaps and feeds from a hostile server (``ARCHIVE_SITEMAP_*`` settings).

No DTD is ever parsed (XML external entities, entity expansion), decompression stops at
``ARCHIVE_SITEMAP_MAX_BYTES``, one sitemap gives at most ``ARCHIVE_SITEMAP_MAX_URLS`` URLs (the
sitemaps.org limits: 50,000 URLs, 50 MiB), and a ``lastmod`` that is not a W3C datetime is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from scrapy.http import Response, XmlResponse
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap

# A DTD (and so any entity) can only come before the root element; sitemaps and feeds never need one.
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# W3C Datetime (https://www.w3.org/TR/NOTE-datetime), the format sitemaps.org prescribes for lastmod.
_W3C_DATETIME = re.compile(
    r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)?)?$"
)


@dataclass(frozen=True, slots=True)
class SitemapLimits:
    """How much one sitemap may cost: uncompressed bytes and URLs."""

    max_bytes: int = 50 * 1024 * 1024
    max_urls: int = 50_000

    @classmethod
    def from_settings(cls, settings) -> SitemapLimits:
        return cls(
            settings.getint("ARCHIVE_SITEMAP_MAX_BYTES"),
            settings.getint("ARCHIVE_SITEMAP_MAX_URLS"),
        )


def dtd_refusal(body: bytes) -> str | None:
    """Why an XML document must not be parsed at all, or None."""
    if _DTD.search(body):
        return "declares a DTD or entities (external entities, entity expansion): refused unparsed"
    return None


def valid_lastmod(value: str) -> bool:
    """True for a W3C datetime that names a real moment (no month 13, no year 0)."""
    if not _W3C_DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value if len(value) > 7 else f"{value}-01-01"[:10])
    except ValueError:
        return False
    return True


def sitemap_body(response: Response, limits: SitemapLimits) -> tuple[bytes | None, str | None]:
    """(XML body, None), or (None, why it is refused as too large), or (None, None): not a sitemap."""
    if gzip_magic_number(response):
        try:
            return gunzip(response.body, max_size=limits.max_bytes), None
        except _DecompressionMaxSizeExceeded:
            return None, (
                f"{len(response.body)} gzip bytes inflate past {limits.max_bytes} "
                "(ARCHIVE_SITEMAP_MAX_BYTES): refused"
            )
    if isinstance(response, XmlResponse) or response.url.endswith((".xml", ".xml.gz")):
        return response.body, None
    return None, None


class SitemapReader:
    """The entries of one sitemap, streamed and capped, with what was wrong with it once read."""

    def __init__(self, body: bytes, limits: SitemapLimits) -> None:
        # Scrapy's Sitemap: lxml iterparse with resolve_entities=False, elements cleared as read.
        self._sitemap = Sitemap(body)
        self.type = self._sitemap.type
        self.limits = limits
        self.read = 0
        self.dropped = 0
        self.bad_lastmods: list[str] = []

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for entry in self._sitemap:
            if not entry.get("loc"):
                continue
            if self.read >= self.limits.max_urls:
                self.dropped += 1  # counted, so the event can say how many were left out
                continue
            self.read += 1
            lastmod = entry.get("lastmod")
            if lastmod and not valid_lastmod(lastmod):
                self.bad_lastmods.append(lastmod)
                del entry["lastmod"]
            yield entry

    @property
    def errors(self) -> list[str]:
        """lxml's complaints about the document (it recovers what it can)."""
        return [f"line {e.line}: {e.message}" for e in self._sitemap.xmliter.error_log]


def open_sitemap(body: bytes, limits: SitemapLimits) -> tuple[SitemapReader | None, str | None]:
    """(reader, None), or (None, why the document is unreadable)."""
    try:
        return SitemapReader(body, limits), None
    except (etree.XMLSyntaxError, StopIteration) as exc:
        return None, f"not XML: {exc or 'empty document'}"
