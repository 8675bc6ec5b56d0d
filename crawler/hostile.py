"""How the crawler records hostile input: a case of ``pipelines.run_report.HOSTILE_CASES`` met is
counted as ``hostile/<case>`` (the run report lists them), logged in ``events.jsonl`` with its
reason and, when its response was archived, flagged by a WARC ``metadata`` record (WARC 1.1 §6.7).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from pipelines.archive_session import ArchiveSession
from pipelines.run_report import HOSTILE_CASES

logger = logging.getLogger(__name__)

# Failures whose archived response is the problem itself; its WARC record gets the flag.
RESPONSE_CASES = {
    "decompression-bomb",
    "rate-limited",
    "redirect-scheme",
    "redirect-offsite",
    "redirect-limit",
}


class HostileRefusal(IgnoreRequest):
    """A request refused because of hostile input; ``case`` is a key of HOSTILE_CASES."""

    def __init__(self, case: str, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.case = case
        self.details = details


def note_case(crawler, case: str, url: str, reason: str) -> None:
    """Count a case met and keep its first example for the run report (no event)."""
    count_case(crawler.stats, case, url, reason)


def count_case(stats, case: str, url: str, reason: str) -> None:
    """``note_case`` for a component that holds the crawl's stats rather than the crawler."""
    if case not in HOSTILE_CASES:
        raise ValueError(f"unknown hostile case {case!r}")
    stats.inc_value(f"hostile/{case}")
    if stats.get_value(f"hostile-example/{case}") is None:
        stats.set_value(f"hostile-example/{case}", {"url": url, "reason": reason})
    logger.info("hostile input (%s) %s: %s", case, url, reason)


def record_case(
    crawler, case: str, url: str, reason: str, *, warc_record: dict | None = None, **details: Any
) -> None:
    """Count a case, log it as an event of kind ``case`` and flag its archived response, if any."""
    log_case(
        crawler.stats,
        crawler.get_extension(ArchiveSession),
        case,
        url,
        reason,
        warc_record=warc_record,
        **details,
    )


def log_case(
    stats,
    session: ArchiveSession | None,
    case: str,
    url: str,
    reason: str,
    *,
    warc_record: dict | None = None,
    **details: Any,
) -> None:
    """``record_case`` for a component that holds the crawl's stats and session."""
    count_case(stats, case, url, reason)
    if session is None:
        return
    session.log_event(case, url, reason, case=case, **details)
    if warc_record and warc_record.get("record_id"):
        flag_record(
            session, url, warc_record["record_id"], {"hostile-case": case, "reason": reason}
        )


def flag_record(session: ArchiveSession, url: str, record_id: str, fields: dict[str, str]) -> None:
    """Append a metadata record about ``record_id`` to the crawl's WARC."""
    session.write_metadata(url, record_id, fields)


def failure_case(failure: Failure) -> tuple[str, str] | None:
    """The hostile case behind a failed request, with a one-line reason, or None for ordinary failures."""
    exc = failure.value
    name = type(exc).__name__
    if isinstance(exc, HostileRefusal):
        return exc.case, str(exc)
    if isinstance(exc, HttpError):
        response = exc.response
        location = (response.headers.get("Location") or b"").decode("latin-1")
        if 300 <= response.status < 400 and location:
            return (
                "redirect-scheme",
                f"HTTP {response.status} to {location[:200]}: non-HTTP target not followed",
            )
        if response.status in (429, 503):
            retry_after = (response.headers.get("Retry-After") or b"").decode("latin-1")
            return (
                "rate-limited",
                f"HTTP {response.status} (Retry-After: {retry_after or 'none'}) after the retries",
            )
        return None
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "max redirections" in text:
            chain = failure.request.meta.get("redirect_urls", [])  # type: ignore[attr-defined]
            return (
                "redirect-limit",
                f"more than {len(chain)} redirects (REDIRECT_MAX_TIMES): not followed further",
            )
        if "decompress" in text:
            return "decompression-bomb", text
        return None
    if "Timeout" in name:
        return "timeout", f"{name}: {exc}"
    if name == "DownloadCancelledError":
        return (
            "too-large",
            f"body larger than DOWNLOAD_MAXSIZE: download cancelled, nothing archived ({exc})".replace(
                " ()", ""
            ),
        )
    return None
