"""The CDXJ index format of the store's WARC files, and seek-based lookups in a sorted index.

Lines are ``SURT timestamp {json}`` as cdxj-indexer and pywb write them, sorted bytewise: one file
per committed crawl (``crawls/<id>/index.cdxj``) and one merged file (``indexes/all.cdxj``).
They are built by :mod:`archive.indexer`; reading them needs nothing of cdxj-indexer.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import surt

from archive.crawl import crawl_prefix

if TYPE_CHECKING:
    from typing import Self

logger = logging.getLogger(__name__)

INDEX_KEY = "indexes/all.cdxj"
REVISIT_MIME = "warc/revisit"


def crawl_index_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}index.cdxj"


# --- URL keys and timestamps -------------------------------------------------------------------


def surt_key(url: str) -> str:
    """The SURT sort key of an http(s) URL, as pywb and cdxj-indexer compute it.

    Raises ``ValueError`` for anything that is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"not a URL: {url[:200]!r}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:200]!r}")
    return surt.surt(url)


def surt_prefix(url_prefix: str) -> str:
    """The key prefix that every URL starting with ``url_prefix`` shares (surt drops a final /)."""
    key = surt_key(url_prefix)
    if url_prefix.endswith("/") and not key.endswith("/"):
        key += "/"
    return key


def pad_timestamp(timestamp: str) -> str:
    """A 4-14 digit timestamp padded to 14 digits at the start of its period (``2025`` →
    ``20250101000000``). Raises ``ValueError`` for anything else or an impossible date."""
    if not (4 <= len(timestamp) <= 14) or not timestamp.isascii() or not timestamp.isdigit():
        raise ValueError(f"not a timestamp: {timestamp[:40]!r}")
    padded = timestamp + "10000101000000"[len(timestamp) :]  # pywb's PAD_14_DOWN
    parse_timestamp(padded)
    return padded


def parse_timestamp(timestamp: str) -> datetime:
    """A 14-digit ``YYYYMMDDhhmmss`` timestamp as an aware UTC datetime."""
    # Sliced by hand: strptime is ~10x slower and accepts short fields ("2025111" as 1 Nov).
    try:
        if len(timestamp) != 14 or not timestamp.isascii() or not timestamp.isdigit():
            raise ValueError(timestamp)
        t = timestamp
        return datetime(
            int(t[:4]),
            int(t[4:6]),
            int(t[6:8]),
            int(t[8:10]),
            int(t[10:12]),
            int(t[12:]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"not a timestamp: {timestamp[:40]!r}") from exc


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _seconds(timestamp: str) -> float:
    return parse_timestamp(timestamp).timestamp()


def _bare_digest(digest: str | None) -> str:
    return (digest or "").rpartition(":")[2].upper()


# --- Entries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureEntry:
    """One line of a CDXJ index: a record's URL, time, type and where it lies.

    ``position`` is the byte offset of the line in the index file it was read from: the opaque id
    the replay server hands out for raw record downloads (never a file name).
    """

    urlkey: str
    timestamp: str
    url: str
    mime: str
    status: int | None
    digest: str
    length: int
    offset: int
    filename: str
    position: int = -1
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_revisit(self) -> bool:
        return self.mime == REVISIT_MIME

    @property
    def is_redirect(self) -> bool:
        return self.status is not None and 300 <= self.status < 400

    @property
    def datetime(self) -> datetime:
        return parse_timestamp(self.timestamp)

    def same_payload(self, digest: str | None) -> bool:
        return bool(digest) and _bare_digest(self.digest) == _bare_digest(digest)

    @classmethod
    def from_line(cls, line: bytes | str, position: int = -1) -> CaptureEntry:
        """Parse one CDXJ line; raises ``ValueError`` when it is not one."""
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        urlkey, timestamp, body = text.rstrip("\r\n").split(" ", 2)
        data = json.loads(body)
        if not isinstance(data, dict) or len(timestamp) != 14 or not timestamp.isdigit():
            raise ValueError("not a CDXJ line")
        status = str(data.get("status", "-"))
        known = {"url", "mime", "status", "digest", "length", "offset", "filename"}
        return cls(
            urlkey=urlkey,
            timestamp=timestamp,
            url=str(data.get("url", "")),
            mime=str(data.get("mime", "")),
            status=int(status) if status.isdigit() else None,
            digest=str(data.get("digest", "")),
            length=int(data.get("length", 0)),
            offset=int(data.get("offset", 0)),
            filename=str(data.get("filename", "")),
            position=position,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_line(self) -> str:
        """The CDXJ line, fields as cdxj-indexer writes them (numbers as strings)."""
        data: dict[str, Any] = {"url": self.url, "mime": self.mime}
        if self.status is not None:
            data["status"] = str(self.status)
        data.update(digest=self.digest, length=str(self.length), offset=str(self.offset))
        data["filename"] = self.filename
        data.update(self.extra)
        return f"{self.urlkey} {self.timestamp} {json.dumps(data)}\n"


# --- Lookups ------------------------------------------------------------------------------------


class CdxjIndex:
    """Lookups in a sorted CDXJ file by binary search over byte offsets, nothing loaded up front.

    Each lookup costs O(log size) reads of one block plus a scan of the matching lines. ``reads``
    counts read calls on the file so tests can hold that bound. Thread-safe.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, *, block_size: int = 4096):
        if isinstance(source, (str, os.PathLike)):
            self._fh: BinaryIO = open(source, "rb")  # noqa: SIM115 (held for the index's life)
            self._owned = True
        else:
            self._fh = source
            self._owned = False
        self._fh.seek(0, io.SEEK_END)
        self.size = self._fh.tell()
        self.block_size = block_size
        self.reads = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owned:
            self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Low level: all callers hold the lock.

    def _read(self, offset: int, length: int) -> bytes:
        self.reads += 1
        self._fh.seek(offset)
        return self._fh.read(length)

    def _line_from(self, start: int, data: bytes) -> bytes:
        """The line beginning at ``start``, given ``data`` already read from there."""
        while b"\n" not in data and start + len(data) < self.size:
            more = self._read(start + len(data), self.block_size)
            if not more:
                break
            data += more
        return data.split(b"\n", 1)[0]

    def _line_at_or_after(self, pos: int) -> tuple[int, bytes | None]:
        """The first line that starts at or after byte ``pos``, and where it starts."""
        if pos <= 0:
            start, data = 0, self._read(0, self.block_size)
        else:
            data = self._read(pos - 1, self.block_size)
            start = pos - 1
            while (cut := data.find(b"\n")) < 0:
                if start + len(data) >= self.size:
                    return self.size, None
                data += self._read(start + len(data), self.block_size)
            start, data = start + cut + 1, data[cut + 1 :]
        if start >= self.size:
            return self.size, None
        return start, self._line_from(start, data)

    def _lower_bound(self, target: bytes) -> int:
        """Offset of the first line >= ``target`` (or the file size).

        Invariant: that line starts in [lo, first line start at or after hi].
        """
        lo, hi = 0, self.size
        while hi - lo > self.block_size:
            mid = (lo + hi) // 2
            start, line = self._line_at_or_after(mid)
            if line is None or line >= target:
                hi = mid
            else:
                lo = start + len(line) + 1
        return lo

    def _scan(self, target: bytes, limit: int | None) -> list[CaptureEntry]:
        """Entries whose line starts with ``target``, in index order."""
        pos = self._lower_bound(target)
        out: list[CaptureEntry] = []
        buffer, chunk = b"", self.block_size
        while pos < self.size and (limit is None or len(out) < limit):
            cut = buffer.find(b"\n")
            if cut < 0:
                more = self._read(pos + len(buffer), chunk)
                chunk = min(chunk * 2, 1 << 20)  # a long run of captures: read ahead more
                if not more:
                    cut = len(buffer)
                else:
                    buffer += more
                    continue
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            if line >= target:
                if not line.startswith(target):
                    break
                entry = _parse(line, pos)
                if entry is not None:
                    out.append(entry)
            pos += cut + 1
        return out

    # Public lookups.

    def captures(self, urlkey: str) -> list[CaptureEntry]:
        """Every capture of one SURT key, oldest first."""
        with self._lock:
            return self._scan(f"{urlkey} ".encode(), None)

    def lookup(self, url: str) -> list[CaptureEntry]:
        """Every capture of ``url`` (after SURT canonicalisation), oldest first."""
        return self.captures(surt_key(url))

    def by_distance(self, url: str, timestamp: str) -> list[CaptureEntry]:
        """Captures of ``url``, nearest to the 14-digit ``timestamp`` first (earlier wins ties)."""
        target = _seconds(timestamp)
        return sorted(
            self.lookup(url), key=lambda e: (abs(_seconds(e.timestamp) - target), e.timestamp)
        )

    def nearest(self, url: str, timestamp: str) -> CaptureEntry | None:
        ranked = self.by_distance(url, timestamp)
        return ranked[0] if ranked else None

    def prefix(self, url_prefix: str, limit: int = 1000) -> list[CaptureEntry]:
        """Captures of every URL starting with ``url_prefix``, in key order, at most ``limit``."""
        with self._lock:
            return self._scan(surt_prefix(url_prefix).encode(), limit)

    def host(self, host: str, limit: int = 1000) -> list[CaptureEntry]:
        """Captures of every URL on ``host`` (``example.com`` or ``127.0.0.1:8080``)."""
        return self.prefix(f"http://{host}/", limit)

    def entry_at(self, position: int) -> CaptureEntry | None:
        """The entry whose line starts exactly at byte ``position``, or None."""
        if not 0 <= position < self.size:
            return None
        with self._lock:
            if position and self._read(position - 1, 1) != b"\n":
                return None
            line = self._line_from(position, self._read(position, self.block_size))
            return _parse(line, position)


def _parse(line: bytes, position: int) -> CaptureEntry | None:
    if not line or line.startswith(b"!"):  # "!meta" header lines of compressed indexes
        return None
    try:
        return CaptureEntry.from_line(line, position)
    except (ValueError, TypeError) as exc:
        logger.warning("Skipping a malformed index line at byte %d: %s", position, exc)
        return None


def iter_entries(lines: Iterable[bytes | str]) -> Iterator[CaptureEntry]:
    """Entries of CDXJ lines, malformed ones skipped."""
    for line in lines:
        entry = _parse(line.encode() if isinstance(line, str) else line.rstrip(b"\n"), -1)
        if entry is not None:
            yield entry
