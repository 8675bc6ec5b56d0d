"""What ``crawl`` and ``demo`` print when their crawls end: one line per crawl, one per failure."""

from __future__ import annotations

import sys
from typing import Any


def summary(stats: dict[str, Any]) -> str:
    """One line on a finished crawl: its report when it wrote one, else what its stats say."""
    if "report" in stats:
        return (
            f"crawl {stats.get('archive/crawl_id', '?')}: {stats['report']}; "
            f"{stats.get('warc/files', 0)} WARC files, {stats.get('warc/records', 0)} records"
        )
    return (
        f"crawl {stats.get('archive/crawl_id', '?')}: {stats.get('finish_reason', 'not finished')}; "
        f"{stats.get('response_received_count', 0)} responses, "
        f"{stats.get('extract/records', 0)} articles with clean text, "
        f"{stats.get('warc/files', 0)} WARC files, {stats.get('warc/records', 0)} records, "
        f"{sum(v for k, v in stats.items() if k.startswith('archive/events/'))} problems logged"
    )


def report_failures(command: str, results: list[dict[str, Any]]) -> int:
    """Print one line per failed crawl on stderr; the exit status (1 when any failed)."""
    from pipelines.run_report import crawl_failure

    failures = [cause for stats in results if (cause := crawl_failure(stats))]
    for cause in failures:
        print(f"lifegate-archive {command}: {cause}", file=sys.stderr)
    return 1 if failures or not results else 0
