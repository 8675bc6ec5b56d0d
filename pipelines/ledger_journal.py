"""Every archived article page goes into the crawl's ledger journal, extracted or not.

Runs after the extraction pipeline (whose text hash it records when there is one), so turning
extraction off (``EXTRACT_ENABLED = False``) still leaves the ledger knowing what was archived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter

from pipelines.archive_session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class LedgerJournalPipeline:
    """Counts new, changed and unchanged articles and writes one capture event per article item."""

    def __init__(self, stats, session: ArchiveSession | None = None) -> None:
        self.stats = stats
        self._session = session
        self.crawler: Crawler | None = None  # set by from_crawler: where the session is found

    @classmethod
    def from_crawler(cls, crawler) -> LedgerJournalPipeline:
        pipeline = cls(crawler.stats)
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self) -> None:
        if self.crawler is not None:
            self._session = self.crawler.get_extension(ArchiveSession)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if "url" not in adapter or "capture_kind" not in adapter.field_names():
            return item
        kind = adapter.get("capture_kind") or "response"
        adapter["body"] = None  # when extraction is off, nothing else lets go of the bytes
        if kind != "response":
            self.stats.inc_value("incremental/unchanged")
        else:
            self.stats.inc_value(
                "incremental/changed" if adapter.get("known") else "incremental/new"
            )
        if self._session is not None:
            self._session.journal(self.capture_event(adapter, kind))
        return item

    def capture_event(self, adapter: ItemAdapter, kind: str) -> dict[str, Any]:
        location = adapter.get("warc_record") or {}
        event: dict[str, Any] = {
            "type": "capture",
            "url": adapter["url"],
            "kind": kind,
            "fetched": adapter.get("fetched"),
            "warc_date": adapter.get("fetched"),
            "http_status": adapter.get("status"),
            "etag": adapter.get("etag"),
            "last_modified": adapter.get("last_modified"),
            "payload_digest": location.get("payload_digest"),
            "sitemap_lastmod": adapter.get("sitemap_lastmod"),
        }
        if adapter.get("requested_url"):
            event["requested_url"] = adapter["requested_url"]
        if location and self._session is not None:
            event["warc"] = {
                "key": self._session.warc_store_key(location["warc_file"]),
                "offset": location["offset"],
                "length": location["length"],
                "record_id": location["record_id"],
            }
        event.update({k: v for k, v in (adapter.get("text_summary") or {}).items() if v})
        return event
