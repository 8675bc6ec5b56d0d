"""Memento (RFC 7089): HTTP datetimes, the Link headers of mementos and TimeGates, and TimeMaps
in link-format (RFC 6690) and in the JSON form Memento aggregators use."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from archive.index import parse_timestamp

LINK_FORMAT = "application/link-format"


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, the form Memento-Datetime takes (RFC 7089 §2.1.1)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@functools.lru_cache(maxsize=4096)  # every memento's headers give its date twice
def timestamp_http_date(timestamp: str) -> str:
    return http_date(parse_timestamp(timestamp))


def parse_accept_datetime(value: str) -> datetime:
    """An ``Accept-Datetime`` value (RFC 7089 §2.1.1: an RFC 1123 date in GMT).

    Raises ``ValueError`` when it is not one, which the TimeGate answers with 400 (§4.5.3).
    """
    value = value.strip()
    if not value.endswith("GMT") or len(value) > 64:
        raise ValueError(f"not an RFC 1123 GMT date: {value[:64]!r}")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not an RFC 1123 GMT date: {value[:64]!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class MementoUrls:
    """Where an archive at ``host_url`` serves mementos (URI-M), its TimeGate and TimeMaps."""

    host_url: (
        str  # scheme and authority, no trailing slash (http://127.0.0.1:8080); "" for relative
    )

    def memento(self, timestamp: str, url: str, modifier: str = "") -> str:
        return f"{self.host_url}/web/{timestamp}{modifier}/{url}"

    def timegate(self, url: str) -> str:
        return f"{self.host_url}/web/{url}"

    def timemap(self, url: str, fmt: str = "link") -> str:
        return f"{self.host_url}/timemap/{fmt}/{url}"


def _memento_link(urls: MementoUrls, url: str, timestamp: str, rel: str) -> str:
    when = timestamp_http_date(timestamp)
    return f'<{urls.memento(timestamp, url)}>; rel="{rel}"; datetime="{when}"'


def _memento_rels(timestamps: Sequence[str], index: int) -> str:
    rels = []
    if index == 0:
        rels.append("first")
    if index == len(timestamps) - 1:
        rels.append("last")
    return " ".join([*rels, "memento"])


def memento_link_header(urls: MementoUrls, original: str, timestamp: str) -> str:
    """``Link`` of a memento: its original resource, TimeGate and TimeMap (RFC 7089 §2.2.1),
    and the memento itself."""
    return ", ".join(
        [
            f'<{original}>; rel="original"',
            f'<{urls.timegate(original)}>; rel="timegate"',
            f'<{urls.timemap(original)}>; rel="timemap"; type="{LINK_FORMAT}"',
            _memento_link(urls, original, timestamp, "memento"),
        ]
    )


def timegate_link_header(urls: MementoUrls, original: str, timestamps: Sequence[str]) -> str:
    """``Link`` of a TimeGate's 302 (RFC 7089 §4.1.1): original, TimeMap, first and last."""
    links = [
        f'<{original}>; rel="original"',
        f'<{urls.timemap(original)}>; rel="timemap"; type="{LINK_FORMAT}"',
    ]
    if timestamps:
        ends = [timestamps[0]] if len(timestamps) == 1 else [timestamps[0], timestamps[-1]]
        for i, timestamp in enumerate(ends):
            rel = _memento_rels(ends, i)
            links.append(_memento_link(urls, original, timestamp, rel))
    return ", ".join(links)


def link_timemap(urls: MementoUrls, original: str, timestamps: Sequence[str]) -> str:
    """A TimeMap in link-format, laid out as RFC 7089 §5.1 shows it (oldest memento first)."""
    lines = [
        f'<{original}>; rel="original"',
        f'<{urls.timemap(original)}>; rel="self"; type="{LINK_FORMAT}"'
        + (
            f'; from="{timestamp_http_date(timestamps[0])}"'
            f'; until="{timestamp_http_date(timestamps[-1])}"'
            if timestamps
            else ""
        ),
        f'<{urls.timegate(original)}>; rel="timegate"',
    ]
    for i, timestamp in enumerate(timestamps):
        lines.append(_memento_link(urls, original, timestamp, _memento_rels(timestamps, i)))
    return ",\n".join(lines) + "\n"


def json_timemap(urls: MementoUrls, original: str, timestamps: Sequence[str]) -> dict:
    """A TimeMap in the JSON form of the Memento aggregator and MemGator."""

    def item(timestamp: str) -> dict[str, str]:
        moment = parse_timestamp(timestamp)
        when = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"datetime": when, "uri": urls.memento(timestamp, original)}

    mementos: dict[str, object] = {"list": [item(t) for t in timestamps]}
    if timestamps:
        mementos = {"first": item(timestamps[0]), "last": item(timestamps[-1]), **mementos}
    return {
        "original_uri": original,
        "timegate_uri": urls.timegate(original),
        "timemap_uri": {
            "link_format": urls.timemap(original, "link"),
            "json_format": urls.timemap(original, "json"),
        },
        "mementos": mementos,
    }
