"""WARC 1.1 records for HTTP exchanges, and the rolling writer that puts them in files.

Records are built with warcio and written one gzip member per record (WARC 1.1 Annex D) into
``*.warc.gz.open`` files that are renamed when closed and rolled over at a size limit (Annex C).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.atomic_file import finish
from archive.deflate import gzip_member

logger = logging.getLogger(__name__)

WARC_VERSION = "WARC/1.1"
PROFILE_IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
OPEN_SUFFIX = ".open"
HeaderList = Sequence[tuple[bytes, bytes]]


class _Latin1StatusAndHeaders(StatusAndHeaders):
    """HTTP header block serialised byte-for-byte.

    warcio re-encodes header blocks as ASCII and percent-encodes anything else, which would change
    what the server sent; header values arrive as bytes and are carried as latin-1, which maps every
    byte to one code point and back.
    """

    def compute_headers_buffer(self, header_filter=None):
        self.headers_buff = self.to_bytes(header_filter, encoding="latin-1")


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One HTTP request and the response to it, as the crawler saw them on the wire."""

    url: str
    method: str
    request_headers: HeaderList
    status: int
    response_headers: HeaderList
    body: bytes
    fetch_started: datetime
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    reason: str | None = None
    ip_address: str | None = None
    truncated: str | None = None  # WARC-Truncated reason: "length", "time", "disconnect", ...

    @property
    def request_target(self) -> str:
        """Path and query as they appear on the request line (the fragment is never sent)."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        return urlsplit(self.url).netloc


@dataclass(frozen=True, slots=True)
class RecordLocation:
    """Where a record landed: enough to fetch it back with one byte-range read."""

    filename: str
    offset: int
    length: int
    record_id: str
    record_type: str
    target_uri: str | None = None
    payload_digest: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "warc_file": self.filename,
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
            "payload_digest": self.payload_digest,
        }


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest warcio writes for ``body``: base32 SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def warc_date(moment: datetime) -> str:
    """WARC-Date in UTC with microseconds (WARC 1.1 §5.4 allows fractional seconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _status_line(exchange: HttpExchange) -> tuple[str, str]:
    # Scrapy loses the reason phrase; the standard phrase is the honest stand-in (see README).
    reason = exchange.reason
    if reason is None:
        try:
            reason = HTTPStatus(exchange.status).phrase
        except ValueError:
            reason = ""
    protocol = exchange.protocol.upper() if exchange.protocol else "HTTP/1.1"
    if not protocol.startswith("HTTP/1"):
        # An HTTP/2 exchange has no text form; HTTP/1.1 is what replay tools parse.
        protocol = "HTTP/1.1"
    return protocol, f"{exchange.status} {reason}".rstrip()


def _decode(headers: HeaderList) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]


def _target(exchange: HttpExchange) -> str:
    # The fragment never goes on the wire, so it is not part of the target (WARC 1.1 §5.5).
    return urldefrag(exchange.url)[0]


def _http_response(exchange: HttpExchange) -> _Latin1StatusAndHeaders:
    protocol, statusline = _status_line(exchange)
    return _Latin1StatusAndHeaders(
        statusline, _decode(exchange.response_headers), protocol=protocol
    )


@dataclass(frozen=True, slots=True)
class RevisitTarget:
    """The earlier record a revisit points at (WARC-Refers-To, -Target-URI, -Date)."""

    record_id: str
    target_uri: str
    date: str


class WarcRecordFactory:
    """Builds warcinfo, response and request records; writing them is someone else's job.

    ``make_record_id`` and ``clock`` are injectable so tests can compare whole files byte for byte.
    """

    def __init__(
        self,
        *,
        make_record_id: Callable[[], str] = make_record_id,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._builder = RecordBuilder(warc_version=WARC_VERSION)
        self.make_record_id = make_record_id
        self.clock = clock

    def warcinfo(self, filename: str, fields: dict[str, str]):
        record = self._builder.create_warcinfo_record(filename, fields)
        record.rec_headers.replace_header("WARC-Record-ID", self.make_record_id())
        record.rec_headers.replace_header("WARC-Date", warc_date(self.clock()))
        return record

    def exchange(self, exchange: HttpExchange, warcinfo_id: str | None):
        """Response record first, then the request record that points at it."""
        response_id = self.make_record_id()
        response = self._builder.create_warc_record(
            _target(exchange),
            "response",
            payload=io.BytesIO(exchange.body),
            length=len(exchange.body),
            warc_headers_dict=self._response_headers(exchange, warcinfo_id, response_id),
            http_headers=_http_response(exchange),
        )
        return response, self._request(exchange, warcinfo_id, response_id)

    def revisit(
        self,
        exchange: HttpExchange,
        warcinfo_id: str | None,
        *,
        profile: str,
        refers_to: RevisitTarget,
        payload_digest: str | None,
    ):
        """A revisit record (WARC 1.1 §6.7) holding the new response's headers, then its request.

        ``identical-payload-digest``: the body equals the one in ``refers_to``;
        ``server-not-modified``: the server answered 304 to a conditional request.
        """
        revisit_id = self.make_record_id()
        headers = self._response_headers(exchange, warcinfo_id, revisit_id)
        headers["WARC-Profile"] = profile
        if refers_to.record_id:  # unknown when the earlier capture was found by its digest
            headers["WARC-Refers-To"] = refers_to.record_id
        headers["WARC-Refers-To-Target-URI"] = refers_to.target_uri
        headers["WARC-Refers-To-Date"] = refers_to.date
        if payload_digest:
            headers["WARC-Payload-Digest"] = payload_digest
        record = self._builder.create_warc_record(
            _target(exchange),
            "revisit",
            payload=io.BytesIO(b""),
            length=0,
            warc_headers_dict=headers,
            http_headers=_http_response(exchange),
        )
        return record, self._request(exchange, warcinfo_id, revisit_id)

    def _response_headers(
        self, exchange: HttpExchange, warcinfo_id: str | None, record_id: str
    ) -> dict[str, str]:
        headers = {"WARC-Date": warc_date(exchange.fetch_started), "WARC-Record-ID": record_id}
        if warcinfo_id:
            headers["WARC-Warcinfo-ID"] = warcinfo_id
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.truncated:
            headers["WARC-Truncated"] = exchange.truncated
        return headers

    def _request(self, exchange: HttpExchange, warcinfo_id: str | None, concurrent_to: str):
        # Twisted adds Host last and Scrapy never sees it; it goes first, where clients put it.
        request_headers = [("Host", exchange.host_header)] + [
            (k, v) for k, v in _decode(exchange.request_headers) if k.lower() != "host"
        ]
        http_request = _Latin1StatusAndHeaders(
            f"{exchange.method} {exchange.request_target} HTTP/1.1",
            request_headers,
            is_http_request=True,
        )
        headers = {
            "WARC-Date": warc_date(exchange.fetch_started),
            "WARC-Record-ID": self.make_record_id(),
            "WARC-Concurrent-To": concurrent_to,
        }
        if warcinfo_id:
            headers["WARC-Warcinfo-ID"] = warcinfo_id
        return self._builder.create_warc_record(
            _target(exchange),
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            warc_headers_dict=headers,
            http_headers=http_request,
        )

    def metadata(self, target_uri: str, concurrent_to: str | None, fields: dict[str, str]):
        """A metadata record (WARC 1.1 §6.7) in application/warc-fields form."""
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
        headers = {"WARC-Record-ID": self.make_record_id(), "WARC-Date": warc_date(self.clock())}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        return self._builder.create_warc_record(
            target_uri,
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict=headers,
        )


def record_bytes(record) -> bytes:
    """One record as WARC bytes, uncompressed."""
    buffer = io.BytesIO()
    WARCWriter(buffer, gzip=False).write_record(record)
    return buffer.getvalue()


@dataclass(slots=True)
class WarcFileNamer:
    """Names files ``PREFIX-TIMESTAMP-SERIAL-HOST.warc[.gz]`` as WARC 1.1 Annex C recommends."""

    prefix: str
    hostname: str = field(default_factory=socket.gethostname)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def name(self, serial: int, *, gzip: bool) -> str:
        stamp = self.clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        host = "".join(c if c.isalnum() or c in "-." else "-" for c in self.hostname) or "host"
        return f"{self.prefix}-{stamp}-{serial:05d}-{host}.warc" + (".gz" if gzip else "")


class RollingWarcWriter:
    """Appends records to ``*.warc.gz.open`` files (``.warc.open`` at ``gzip_level`` 0) in
    ``directory``, rolling over at ``max_size``.

    Every file starts with a warcinfo record. Each call to :meth:`write` is flushed before it
    returns, so a killed process loses at most the call in progress; a closed file is fsynced and
    renamed without the ``.open`` suffix, then handed to ``on_close``. Each record written
    (warcinfo included) goes to ``on_record(file name, record, its uncompressed bytes, location)``
    once it is on disk, under the writer's lock. Thread-safe.
    """

    def __init__(
        self,
        directory: Path,
        *,
        namer: WarcFileNamer,
        warcinfo_fields: dict[str, str],
        factory: WarcRecordFactory | None = None,
        max_size: int = 1_000_000_000,
        gzip_level: int = 6,
        fsync: bool = False,
        on_close: Callable[[Path, int], None] | None = None,
        on_record: Callable[[str, Any, bytes, RecordLocation], None] | None = None,
        first_serial: int = 0,
    ) -> None:
        self.directory = Path(directory)
        self.namer = namer
        self.warcinfo_fields = warcinfo_fields
        self.factory = factory or WarcRecordFactory()
        self.max_size = max_size
        self.gzip_level = gzip_level
        self.fsync = fsync
        self.on_close = on_close
        self.on_record = on_record
        self._serial = first_serial
        self._lock = threading.Lock()
        self._file: io.BufferedWriter | None = None
        self._path: Path | None = None
        self._warcinfo_id: str | None = None
        self._records_in_file = 0
        self.closed_files: list[Path] = []
        self.failed = False

    @property
    def current_path(self) -> Path | None:
        return self._path

    def _open_next(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The extension says what the records are: gzip members unless the level is 0.
        name = self.namer.name(self._serial, gzip=bool(self.gzip_level))
        self._serial += 1
        self._path = self.directory / (name + OPEN_SUFFIX)
        # "xb": never append to or clobber a file another run left behind.
        self._file = open(self._path, "xb")  # noqa: SIM115 (held open across calls)
        self._records_in_file = 0
        info = self.factory.warcinfo(name, self.warcinfo_fields)
        self._warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self._append([info], name)
        logger.info("Opened WARC file %s", self._path)

    def _append(self, records: Iterable, name: str) -> list[RecordLocation]:
        assert self._file is not None
        records = list(records)
        chunks = []
        raws = []
        locations = []
        offset = self._file.tell()
        for record in records:
            raw = record_bytes(record)
            data = gzip_member(raw, self.gzip_level) if self.gzip_level else raw
            raws.append(raw)
            headers = record.rec_headers
            locations.append(
                RecordLocation(
                    filename=name,
                    offset=offset,
                    length=len(data),
                    record_id=headers.get_header("WARC-Record-ID"),
                    record_type=headers.get_header("WARC-Type"),
                    target_uri=headers.get_header("WARC-Target-URI"),
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                )
            )
            offset += len(data)
            chunks.append(data)
        # One write for the whole group keeps a request/response pair together on disk.
        try:
            self._file.write(b"".join(chunks))
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        except OSError:
            # A failed write (disk full) may have torn the file: it must stay .open, for recovery
            # to cut the torn tail, and nothing more may be written after it.
            self.failed = True
            raise
        self._records_in_file += len(locations)
        if self.on_record is not None:
            for record, raw, location in zip(records, raws, locations, strict=True):
                self.on_record(name, record, raw, location)
        return locations

    def write(self, build: Callable[[str | None], Sequence]) -> list[RecordLocation]:
        """Build records with ``build(warcinfo_id)`` and append them to the current file.

        Records are built under the lock so that each one names the warcinfo of the file it lands in.
        """
        with self._lock:
            if self.failed:
                raise OSError("an earlier write to this WARC failed; the file is left for recovery")
            if self._file is None:
                self._open_next()
            elif self.max_size and self._file.tell() >= self.max_size:
                self._close_current()
                self._open_next()
            assert self._path is not None
            name = self._path.name[: -len(OPEN_SUFFIX)]
            return self._append(build(self._warcinfo_id), name)

    def write_exchange(self, exchange: HttpExchange) -> list[RecordLocation]:
        """Response and request records of one exchange; the response's location comes first."""
        return self.write(lambda info_id: self.factory.exchange(exchange, info_id))

    def write_revisit(
        self,
        exchange: HttpExchange,
        *,
        profile: str,
        refers_to: RevisitTarget,
        payload_digest: str | None,
    ) -> list[RecordLocation]:
        """Revisit and request records of one exchange; the revisit's location comes first."""
        return self.write(
            lambda info_id: self.factory.revisit(
                exchange,
                info_id,
                profile=profile,
                refers_to=refers_to,
                payload_digest=payload_digest,
            )
        )

    def _close_current(self) -> None:
        if self._file is None or self._path is None:
            return
        if self.failed:
            # The buffered tail cannot be written either; recovery cuts it.
            with contextlib.suppress(OSError):
                self._file.close()
            logger.error("Left %s open after a failed write; the next run recovers it", self._path)
            self._file = None
            self._path = None
            return
        self._file.flush()
        size = self._file.tell()
        final = self._path.with_name(self._path.name[: -len(OPEN_SUFFIX)])
        finish(self._path, final, self._file)
        logger.info(
            "Closed WARC file %s (%d records, %d bytes)", final, self._records_in_file, size
        )
        records = self._records_in_file
        self._file = None
        self._path = None
        self.closed_files.append(final)
        if self.on_close is not None:
            self.on_close(final, records)

    def close(self) -> None:
        with self._lock:
            self._close_current()

    def abandon(self) -> None:
        """Stop writing and leave the current file ``.open``, as a killed process would, for
        recovery to close."""
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                logger.warning("Left %s open; the next run recovers it", self._path)
            self._file = None
            self._path = None
            self.failed = True  # nothing more goes into a file left for recovery
