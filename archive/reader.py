"""Archived HTTP responses read back from the store by byte range: records named by index
entries (WARC files allow-listed from the crawl manifests, revisits resolved to their payload) or
by a text record's provenance.

Every record is verified before use (its gzip member complete and intact, its WARC block and
payload digests matching when it has them): damaged bytes raise :class:`RecordDamaged`, never
reach a reader as a page.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.timeutils import iso_date_to_timestamp

from archive.content_coding import decode
from archive.crawl import committed_crawls, manifest_key, read_manifest
from archive.gzip_members import iter_member_ends
from archive.index import CaptureEntry, CdxjIndex, surt_key
from archive.storage import Storage, StorageError, validate_key

logger = logging.getLogger(__name__)

# A record longer than this is refused rather than read into memory (crawls cap bodies far lower).
MAX_RECORD_LENGTH = 512 * 1024 * 1024
# Decoded size of one body, unless the caller passes its own (ARCHIVE_REPLAY_MAX_DECODED_BYTES).
MAX_DECODED_LENGTH = 32 * 1024 * 1024
_WARC_NAME = re.compile(r"^crawls/[^/]+/warc/[^/]+\.warc(\.gz)?$")


class NotArchived(LookupError):
    """No usable capture: absent from the index, refused, or unreadable."""


class RecordDamaged(Exception):
    """A record's bytes fail their gzip check or their WARC digests: never served, never extracted."""


def verify_record(data: bytes, gzipped: bool, where: str) -> None:
    """Raise :class:`RecordDamaged` unless ``data`` is one intact record.

    A ``.warc.gz`` record must be exactly one complete gzip member (CRC and length checked by
    inflating it, output dropped); WARC-Block-Digest and WARC-Payload-Digest are checked where the
    record has them (warcio's digest-verifying reader).
    """
    _verified_record(data, gzipped, where)


def _verified_record(data: bytes, gzipped: bool, where: str) -> tuple[ArcWarcRecord, bytes]:
    """:func:`verify_record`'s checks, and what they read: the parsed record and the rest of its
    block after the HTTP headers (the payload, transfer coding still on), so that a reader
    parses each record once."""
    if gzipped:
        try:
            ends = iter_member_ends(io.BytesIO(data))
            end = next(ends, None)
        except ValueError as exc:
            raise RecordDamaged(f"{where}: {exc}") from exc
        if end != len(data):
            raise RecordDamaged(f"{where}: not one gzip member ({end} of {len(data)} bytes)")
    try:
        iterator = ArchiveIterator(io.BytesIO(data), arc2warc=True, check_digests=True)
        record = next(iter(iterator))
        chunks = []
        while chunk := record.raw_stream.read(1 << 20):
            chunks.append(chunk)
    except (ArchiveLoadFailed, StopIteration, ValueError, OSError, EOFError) as exc:
        raise RecordDamaged(f"{where}: unreadable record ({exc})") from exc
    except Exception as exc:
        raise RecordDamaged(f"{where}: unreadable record ({exc})") from exc
    checker = record.digest_checker
    if checker.passed is False:
        raise RecordDamaged(f"{where}: {'; '.join(checker.problems)}")
    return record, b"".join(chunks)


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """An archived HTTP response: status, headers and the payload as stored.

    ``payload`` has any transfer coding removed but keeps its content coding (gzip stays gzip);
    for a revisit, ``payload_entry`` is the capture the payload was taken from. ``record_id`` is
    the WARC-Record-ID of the record read, when it was read by provenance.
    """

    entry: CaptureEntry
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    payload: bytes
    payload_entry: CaptureEntry
    record_id: str = ""

    @property
    def url(self) -> str:
        return self.entry.url

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    @property
    def mime(self) -> str:
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def content_encoding(self) -> str | None:
        value = (self.header("Content-Encoding") or "").strip().lower()
        return value if value and value != "identity" else None

    @property
    def location(self) -> str | None:
        """Where a redirect points, made absolute against the captured URL."""
        value = self.header("Location")
        if not value or not 300 <= self.status < 400:
            return None
        try:
            return urljoin(self.entry.url, value.strip())
        except ValueError:
            return None

    def is_self_redirect(self) -> bool:
        """A redirect to a URL with the same SURT key (http → https, adding a slash): replaying
        it would loop, so replay picks another capture (as pywb does)."""
        target = self.location
        if target is None:
            return False
        try:
            return surt_key(target) == self.entry.urlkey
        except ValueError:
            return False

    def decoded(self, limit: int = MAX_DECODED_LENGTH, *, truncate: bool = False) -> bytes:
        """The payload with its content codings (gzip, deflate, br, zstd) undone, in bounded
        memory; raises ``archive.content_coding.DecodeError`` (or its ``TooLarge``)."""
        return decode(self.payload, self.header("Content-Encoding"), limit, truncate=truncate)


def allowed_warc_keys(storage: Storage, problems: list[str] | None = None) -> frozenset[str]:
    """The WARC files that committed crawls list in their manifests: the only files replay reads.

    A crawl whose manifest cannot be read is skipped, logged and named in ``problems``.
    """
    keys: set[str] = set()
    for crawl_id in committed_crawls(storage):
        try:
            manifest = read_manifest(storage, crawl_id)
        except (StorageError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("Skipping crawl %s: unreadable manifest (%s)", crawl_id, exc)
            if problems is not None:
                problems.append(f"{manifest_key(crawl_id)}: unreadable manifest, crawl skipped")
            continue
        keys.update(entry.key for entry in manifest.objects if entry.kind == "warc")
    return frozenset(keys)


class ArchiveReader:
    """Reads the records that index entries point at, one byte range each.

    The ``filename`` of an entry is only ever compared with ``allowed_keys`` (store keys from the
    manifests): a path, URL or bucket written into an index line is refused, never opened.
    """

    def __init__(
        self,
        storage: Storage,
        index: CdxjIndex,
        allowed_keys: frozenset[str],
        *,
        read_range: Callable[[str, int, int], bytes] | None = None,
    ) -> None:
        self.storage = storage
        self.index = index
        self.allowed_keys = allowed_keys
        # A server passes reads through files it keeps open (archive.open_files).
        self._read_range = read_range or storage.read_range

    def record_bytes(self, entry: CaptureEntry) -> bytes:
        """The record exactly as stored (one gzip member for a .warc.gz)."""
        key = entry.filename
        if key not in self.allowed_keys or not _WARC_NAME.match(key):
            logger.warning("Refusing the index entry of %s: %r is no archived WARC", entry.url, key)
            raise NotArchived(entry.url)
        if entry.offset < 0 or not 0 < entry.length <= MAX_RECORD_LENGTH:
            raise NotArchived(entry.url)
        try:
            data = self._read_range(validate_key(key), entry.offset, entry.length)
        except StorageError as exc:
            logger.warning("Cannot read %s: %s", key, exc)
            raise NotArchived(entry.url) from exc
        if len(data) != entry.length:
            raise NotArchived(entry.url)
        return data

    def verified_bytes(self, entry: CaptureEntry) -> bytes:
        """The record as stored, after :func:`verify_record`; raises :class:`RecordDamaged`."""
        data = self.record_bytes(entry)
        verify_record(data, entry.filename.endswith(".gz"), f"{entry.filename}@{entry.offset}")
        return data

    def _record(self, entry: CaptureEntry) -> tuple[ArcWarcRecord, bytes]:
        data = self.record_bytes(entry)
        where = f"{entry.filename}@{entry.offset}"
        record, rest = _verified_record(data, entry.filename.endswith(".gz"), where)
        try:
            payload = _payload(io.BytesIO(rest), record.http_headers)
        except (ValueError, OSError) as exc:
            logger.warning(
                "Unreadable record of %s at %s:%d: %s", entry.url, entry.filename, entry.offset, exc
            )
            raise NotArchived(entry.url) from exc
        return record, payload

    def load(self, entry: CaptureEntry) -> ArchivedResponse:
        """The response an entry names; a revisit gets the payload of the capture it refers to."""
        record, payload = self._record(entry)
        rec_type = record.rec_type
        if rec_type == "revisit":
            return self._load_revisit(entry, record)
        if rec_type not in ("response", "resource"):
            raise NotArchived(entry.url)
        status, reason, headers = _http_parts(record)
        return ArchivedResponse(entry, status, reason, headers, payload, entry)

    def _load_revisit(self, entry: CaptureEntry, record) -> ArchivedResponse:
        original = self.revisit_original(entry, record)
        original_record, payload = self._record(original)
        if original_record.rec_type not in ("response", "resource"):
            raise NotArchived(entry.url)
        status, reason, headers = _http_parts(original_record)
        new_status = record.http_headers.get_statuscode() if record.http_headers else None
        if new_status and new_status != "304":
            # WARC 1.1 §6.7.2: an identical-payload revisit carries the new response's headers;
            # they win, but the content coding stays that of the payload they are paired with.
            # A 304 (server-not-modified profile) replays as the response it confirmed.
            r_status, r_reason, r_headers = _http_parts(record)
            coding = [(k, v) for k, v in headers if k.lower() == "content-encoding"]
            headers = tuple((k, v) for k, v in r_headers if k.lower() != "content-encoding")
            headers += tuple(coding)
            status, reason = r_status, r_reason
        return ArchivedResponse(entry, status, reason, headers, payload, original)

    def revisit_original(self, entry: CaptureEntry, record) -> CaptureEntry:
        """The capture a revisit refers to: by WARC-Refers-To-Target-URI and -Date when given,
        else by payload digest among captures of the same URL (the nearest earlier one first)."""
        headers = record.rec_headers
        target = headers.get_header("WARC-Refers-To-Target-URI") or entry.url
        date = headers.get_header("WARC-Refers-To-Date")
        digest = headers.get_header("WARC-Payload-Digest")
        refers_ts = iso_date_to_timestamp(date) if date else None
        try:
            candidates = [c for c in self.index.lookup(target) if not c.is_revisit]
        except ValueError as exc:
            raise NotArchived(entry.url) from exc
        if refers_ts:
            exact = [c for c in candidates if c.timestamp == refers_ts]
            matching = [c for c in exact if c.same_payload(digest)] or exact
            if matching:
                return matching[0]
        same = [c for c in candidates if c.same_payload(digest)]
        earlier = [c for c in same if c.timestamp <= entry.timestamp]
        if earlier:
            return earlier[-1]
        if same:
            return same[0]
        raise NotArchived(entry.url)


def read_record_bytes(storage: Storage, provenance: Mapping[str, Any]) -> bytes:
    """The exact bytes of a row's WARC record (one gzip member): one ranged read of its WARC."""
    key, offset, length = (
        provenance.get("warc_key"),
        provenance.get("offset"),
        provenance.get("length"),
    )
    if not key or offset is None or not length:
        raise NotArchived(f"no WARC location in provenance {dict(provenance)!r}")
    data = storage.read_range(key, int(offset), int(length))
    if len(data) != int(length):
        raise NotArchived(f"{key}: short read at {offset} ({len(data)} of {length} bytes)")
    return data


def parse_response(data: bytes, key: str = "record", offset: int = 0) -> ArchivedResponse:
    """The response in ``data`` (one WARC record, read from ``key`` at ``offset``), verified.

    Raises :class:`RecordDamaged` for damaged bytes and :class:`NotArchived` for a record that is
    not a readable response; :meth:`ArchivedResponse.decoded` gives its body.
    """
    where = f"{key}@{offset}"
    verify_record(data, data[:2] == b"\x1f\x8b", where)
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(data))), None)
        if record is None:
            raise NotArchived(f"{where}: no WARC record")
        if record.rec_type != "response":
            raise NotArchived(f"{where}: a {record.rec_type} record, not a response")
        payload = record_payload(record)
        status, reason, headers = _http_parts(record)
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        date = record.rec_headers.get_header("WARC-Date")
        timestamp = iso_date_to_timestamp(date) if date else ""
    except (ArchiveLoadFailed, OSError, ValueError) as exc:
        raise NotArchived(f"{where}: not a readable WARC record ({exc})") from exc
    try:
        urlkey = surt_key(url)
    except ValueError:
        urlkey = url
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    entry = CaptureEntry(
        urlkey=urlkey,
        timestamp=timestamp,
        url=url,
        mime=content_type.split(";", 1)[0].strip(),
        status=status,
        digest=record.rec_headers.get_header("WARC-Payload-Digest") or "",
        length=len(data),
        offset=offset,
        filename=key,
    )
    record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
    return ArchivedResponse(entry, status, reason, headers, payload, entry, record_id)


def read_response(storage: Storage, provenance: Mapping[str, Any]) -> ArchivedResponse:
    """The response a row (or a text record's provenance with ``warc_key``) points at, verified."""
    data = read_record_bytes(storage, provenance)
    return parse_response(data, provenance["warc_key"], int(provenance["offset"]))


def record_payload(record) -> bytes:
    """A record's payload as stored: transfer coding undone, content coding kept."""
    return _payload(record.raw_stream, record.http_headers)


def _payload(stream, http_headers) -> bytes:
    if http_headers is not None:
        coding = http_headers.get_header("Transfer-Encoding") or ""
        if "chunked" in coding.lower():
            stream = ChunkedDataReader(stream)
    return stream.read()


def _http_parts(record) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    http = record.http_headers
    if http is None or not http.get_statuscode():
        # A resource record (or an ARC/WARC without HTTP): its own Content-Type is the type.
        content_type = record.rec_headers.get_header("Content-Type") or "application/octet-stream"
        return 200, "OK", (("Content-Type", content_type),)
    status_text = http.get_statuscode()
    try:
        status = int(status_text)
    except ValueError:
        status = 200
    reason = http.statusline.partition(" ")[2]
    return status, reason, tuple((str(k), str(v)) for k, v in http.headers)
