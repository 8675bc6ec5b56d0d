"""The report of one crawl run: what it found new, changed, unchanged and gone, what failed, and how
politely it went. Written next to the manifest and summarised on the console."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def build_run_report(crawl_id: str, started: datetime, reason: str, stats: dict[str, Any]) -> dict[str, Any]:
    """The report as a JSON-ready dict, built from the crawl's stats."""
    finished = datetime.now(timezone.utc)
    duration = max((finished - started).total_seconds(), 1e-9)
    requests = stats.get("downloader/request_count", 0)

    def total(prefix: str) -> int:
        return sum(v for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int))

    counts = {
        "new": stats.get("incremental/new", 0),
        "changed": stats.get("incremental/changed", 0),
        "unchanged": stats.get("incremental/unchanged", 0),
        "not_due": stats.get("incremental/not_due", 0),
        "gone": stats.get("incremental/gone", 0),
        "failed": total("outcome/request-failed") + total("outcome/http-error"),
        "extraction_skipped": total("extract/skipped/"),
    }
    politeness = {
        "requests": requests,
        "requests_per_minute": round(requests * 60 / duration, 1),
        "http_429": stats.get("downloader/response_status_count/429", 0),
        "http_503": stats.get("downloader/response_status_count/503", 0),
        "retry_after_waits": stats.get("politeness/retry_after_waits", 0),
        "retry_after_seconds": stats.get("politeness/retry_after_seconds", 0),
        "robots_forbidden": stats.get("robotstxt/forbidden", 0),
    }
    bytes_ = {
        "warc_payload": stats.get("warc/payload_bytes", 0),
        "stored": stats.get("store/bytes", 0),
        "received": stats.get("downloader/response_bytes", 0),
    }
    ok = reason in ("finished", "closespider_itemcount", "closespider_pagecount", "shutdown")
    summary = (
        f"{'OK' if ok else 'FAILED'} ({reason}) in {duration:.0f}s: {counts['new']} new, "
        f"{counts['changed']} changed, {counts['unchanged']} unchanged, {counts['not_due']} not due, "
        f"{counts['gone']} gone, {counts['failed']} failed; {requests} requests "
        f"({politeness['requests_per_minute']}/min), {politeness['http_429']} x 429"
    )
    return {
        "crawl_id": crawl_id,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "duration_seconds": round(duration, 3),
        "finish_reason": reason,
        "ok": ok,
        "articles": counts,
        "politeness": politeness,
        "bytes": bytes_,
        "summary": summary,
    }
