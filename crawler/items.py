"""What the spiders hand to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ArticlePage:
    """An article page as fetched: its bytes (content-decoded, not charset-decoded) and where its
    WARC record is. The extraction pipeline empties ``body`` once the text is out."""

    url: str
    body: bytes | None
    status: int
    content_type: str | None
    fetched: str
    discovered_via: str
    warc_record: dict[str, Any] | None = None
    translation_of: str | None = None
    sitemap_lastmod: str | None = None
    text_record_id: str | None = None
    capture_kind: str = "response"  # or "revisit" (same payload as before), "not-modified" (304)
    etag: str | None = None
    last_modified: str | None = None
    known: bool = False  # the ledger knew this article before this run
    text_summary: dict[str, Any] | None = None  # what the ledger journal needs of its text
    requested_url: str | None = None  # the URL first asked for, when redirects led here
    site: str | None = None  # the site the crawl is for (lifegate.it...), whatever host served it
    extra: dict[str, Any] = field(default_factory=dict)
