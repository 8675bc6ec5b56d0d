"""The report of one crawl run: what it found new, changed, unchanged and gone, what failed, how
politely it went, which hostile input it met and how much memory it took. Written next to the
manifest and summarised on the console."""

from __future__ import annotations

import resource
import sys
from datetime import UTC, datetime
from typing import Any

# Every hostile case the pipeline recognises -> what it does about it (README, "Hostile input").
# The crawler counts a case met as the stat ``hostile/<case>`` and keeps its first example as
# ``hostile-example/<case>``; the other components' own stats are mapped in STATS_CASES.
HOSTILE_CASES = {
    "robots-unavailable": "robots.txt answered 4xx: everything allowed (RFC 9309 §2.3.1.3)",
    "robots-unreachable": "robots.txt answered 5xx or not at all: the host is disallowed, and robots.txt "
    "fetched again after ARCHIVE_ROBOTS_RETRY_DELAY, up to ARCHIVE_ROBOTS_RETRIES times (RFC 9309 §2.3.1.4)",
    "robots-too-large": "robots.txt past ARCHIVE_ROBOTS_MAX_BYTES: only the first 500 KiB parsed (RFC 9309 §2.5)",
    "robots-malformed": "robots.txt lines that are not rules are ignored; the rules among them apply",
    "xml-entities": "a sitemap or feed declaring a DTD or entities (XXE, entity expansion): refused unparsed",
    "xml-malformed": "a sitemap that is not well-formed XML: the URLs readable despite the errors are used",
    "xml-too-large": "a sitemap decompressing past ARCHIVE_SITEMAP_MAX_BYTES (gzip bomb): refused",
    "sitemap-loop": "a sitemap index naming itself or a sitemap already read: not read again",
    "sitemap-offsite": "a sitemap on another host: not fetched",
    "sitemap-url-limit": "more than ARCHIVE_SITEMAP_MAX_URLS URLs in one sitemap: the rest dropped",
    "sitemap-bad-lastmod": "a sitemap lastmod that is not a W3C datetime: ignored",
    "decompression-bomb": "a content-coded body inflating past DOWNLOAD_MAXSIZE: archived as sent, flagged, not read",
    "too-large": "a body past DOWNLOAD_MAXSIZE: download cancelled, nothing archived",
    "truncated": "a body cut short (Content-Length too long, connection dropped): archived with WARC-Truncated",
    "timeout": "no complete answer within DOWNLOAD_TIMEOUT (slow or silent server): retried, then given up",
    "redirect-loop": "redirects leading back into their own chain: every hop archived, the loop cut",
    "redirect-limit": "a redirect chain longer than REDIRECT_MAX_TIMES: hops archived, the rest not followed",
    "redirect-offsite": "a page redirecting to another host: the redirect archived, its target not fetched",
    "redirect-scheme": "a redirect to file:, ftp: or another non-HTTP scheme: archived, never followed",
    "retry-after": "429/503 with Retry-After: waited as asked (up to ARCHIVE_RETRY_AFTER_MAX), then retried",
    "rate-limited": "429/503 asking for a longer wait, or still refusing after the retries: archived, given up",
    "soft-block": "a 200 page that is a CAPTCHA or bot wall: archived and flagged, no text record",
    "binary-as-html": "binary data labelled as HTML: archived and flagged, not read",
    "trap-link-depth": "more than ARCHIVE_SCOPE_MAX_HOPS links from a seed (endless calendars, pagination): refused",
    "trap-url-length": "a URL longer than ARCHIVE_SCOPE_MAX_URL_LENGTH: refused",
    "trap-repeated-segments": "a path segment repeated past ARCHIVE_SCOPE_MAX_SEGMENT_REPEATS: refused",
    "unsupported-scheme": "a link to a non-HTTP URL: refused",
    "tracking-params": "session and tracking parameters (ARCHIVE_SCOPE_IGNORED_PARAMS) ignored when deduplicating",
    # Found by the extractor (pipelines/extractor.py): flags on the text record, or no record.
    "charset-mismatch": "the declared charset contradicts the bytes: decoded as UTF-8, text record flagged",
    "charset-fallback": "bytes invalid in the declared charset: charset detected, text record flagged",
    "nul-bytes-stripped": "NUL bytes in the HTML: removed before parsing, text record flagged",
    "deep-nesting": "markup nested past libxml2's depth limit: flattened, text record flagged",
    "binary-content": "an article body that is binary: no text record (extract-skipped event)",
    "empty-body": "an empty article body: no text record (extract-skipped event)",
    "extract-too-large": "an article past EXTRACT_MAX_BYTES: no text record (extract-skipped event)",
    "extract-timeout": "extraction past EXTRACT_TIMEOUT: no text record (extract-skipped event)",
    "parse-error": "HTML that lxml cannot parse at all: no text record (extract-skipped event)",
}
# Stats kept by other components that mean a hostile case was met: stat -> case.
STATS_CASES = {
    "outcome/redirect-loop": "redirect-loop",
    "politeness/retry_after_waits": "retry-after",
    "politeness/retry_after_refused": "rate-limited",
    "extract/skipped/binary-content": "binary-content",
    "extract/skipped/empty-body": "empty-body",
    "extract/skipped/too-large": "extract-too-large",
    "extract/skipped/timeout": "extract-timeout",
    "extract/skipped/parse-error": "parse-error",
    **{
        f"extract/flags/{flag}": flag
        for flag in ("charset-mismatch", "charset-fallback", "nul-bytes-stripped", "deep-nesting")
    },
}


def hostile_section(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Every hostile case met, with how often, what was done and its first example."""
    counts: dict[str, int] = {}
    for key, value in stats.items():
        case = key.removeprefix("hostile/") if key.startswith("hostile/") else STATS_CASES.get(key)
        if case and isinstance(value, int) and value > 0:
            counts[case] = max(counts.get(case, 0), value)
    section = []
    for case in sorted(counts):
        entry: dict[str, Any] = {
            "case": case,
            "count": counts[case],
            "handling": HOSTILE_CASES.get(case, ""),
        }
        example = stats.get(f"hostile-example/{case}")
        if isinstance(example, dict):
            entry.update(url=example.get("url"), reason=example.get("reason"))
        else:
            entry["reason"] = entry["handling"]
        section.append(entry)
    return section


def peak_rss_bytes() -> int:
    """The highest resident memory of this process so far.

    On Linux this is VmHWM: getrusage's ru_maxrss survives exec, so a crawl started from a big
    parent process (a scheduler, a test runner) would report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# Finish reasons of a crawl that ran its course (Scrapy's own, plus the --limit ones); a run
# stopped by SIGTERM/SIGINT closed its files and committed what was complete: also a success.
SUCCESS_REASONS = frozenset(
    {"finished", "closespider_itemcount", "closespider_pagecount", "shutdown"}
)


def failure_cause(reason: str, stats: dict[str, Any]) -> str | None:
    """Why a run failed, in one line (``site-unreachable www.lifegate.it: DNS lookup failed``),
    or None for a run that did its job (partial failures counted, not fatal).

    A run fails when its store failed, when the crawled site was unreachable (DNS, refused, TLS,
    robots.txt 5xx or timeout on every try), when no request finished for
    ARCHIVE_NO_PROGRESS_TIMEOUT, or when it archived no page at all.
    """
    if store := stats.get("run/store_failed"):
        return f"store-failed: {store}"
    if commit := stats.get("archive/commit_error"):
        return f"store-failed: {commit}"
    if waiting := stats.get("archive/unpublished"):
        return f"store-failed: {waiting} files wait in the spool (run `lifegate-archive publish`)"
    if reason == "shutdown":
        return None  # stopped on request: what was complete is committed
    if stalled := stats.get("run/no_progress"):
        return f"no-progress: {stalled}"
    if site := stats.get("run/site_unreachable"):
        return f"site-unreachable {site}"
    if reason not in SUCCESS_REASONS:
        return f"crawl-failed: finished as {reason}"
    if not stats.get("response_received_count") and not stats.get("distributed/run_id"):
        failed = stats.get("downloader/exception_count", 0)
        return f"nothing-archived: no page answered ({failed} download errors)"
    return None


def crawl_failure(stats: dict[str, Any]) -> str | None:
    """Why a finished crawl failed (its final stats), or None: what ``lifegate-archive crawl`` and
    ``scrapy crawl`` both exit non-zero on."""
    if stats.get("archive/crawl_id") is None:
        return "store-failed: the archive could not be opened (see the log)"
    return failure_cause(stats.get("finish_reason", "not finished"), stats)


def skipped_hosts(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Hosts whose requests were skipped as a whole (robots.txt unreachable), with why."""
    return [
        {
            "host": key.removeprefix("skipped_hosts/"),
            "case": "robots-unreachable",
            "reason": stats.get(f"skipped_hosts_reason/{key.removeprefix('skipped_hosts/')}"),
            "urls": value,
        }
        for key, value in sorted(stats.items())
        if key.startswith("skipped_hosts/")
    ]


def build_run_report(
    crawl_id: str, started: datetime, reason: str, stats: dict[str, Any]
) -> dict[str, Any]:
    """The report as a JSON-ready dict, built from the crawl's stats."""
    finished = datetime.now(UTC)
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
        # What the store received for the crawl's files (this report and the manifest excluded).
        "stored": stats.get("store/bytes", 0),
        "received": stats.get("downloader/response_bytes", 0),
    }
    failure = failure_cause(reason, stats)
    ok = failure is None
    summary = (
        f"{'OK' if ok else 'FAILED'} ({reason if ok else failure}) in {duration:.0f}s: {counts['new']} new, "
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
        "failure": failure,
        "skipped_hosts": skipped_hosts(stats),
        "articles": counts,
        "politeness": politeness,
        "bytes": bytes_,
        "hostile": hostile_section(stats),
        "memory": {"peak_rss_bytes": peak_rss_bytes()},
        "summary": summary,
    }
