"""Building the CDXJ indexes: one per committed crawl, merged into one for the whole store.

The format and the lookups are :mod:`archive.index`'s; ``indexes/state.json`` records what each
index was built from, so a run rebuilds only what changed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

with warnings.catch_warnings():
    # cdxj-indexer imports pyamf, which imports pkg_resources and warns about it on every run.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from cdxj_indexer.main import CDXJIndexer, SortingWriter

from archive.crawl import committed_crawls, crawl_ids, manifest_key, read_manifest
from archive.index import INDEX_KEY, crawl_index_key
from archive.storage import Storage, StorageError, StoredObject
from archive.verify import sha256_object

if TYPE_CHECKING:
    from archive.warc import RecordLocation

logger = logging.getLogger(__name__)

STATE_KEY = "indexes/state.json"
STATE_FORMAT = "lifegate-archive/index-state/1"
# In-memory sort buffer before cdxj-indexer's SortingWriter spills sorted runs to temporary files.
SORT_BUFFER = 64 * 1024 * 1024


class _CountingWriter:
    """A text sink that counts the lines written through it."""

    def __init__(self, out: TextIO | SortingWriter) -> None:
        self.out = out
        self.lines = 0

    def write(self, line: str) -> None:
        self.lines += 1
        self.out.write(line)

    def flush(self) -> None:
        self.out.flush()


class _Indexer(CDXJIndexer):
    """cdxj-indexer, computing a missing payload digest in memory.

    Its own fallback (warcio's ``ensure_digest``) spools the payload to a temporary file it never
    closes, and "digests" revisits (whose payload is elsewhere) as the empty string.
    """

    def _get_digest(self, record, name):
        value = record.rec_headers.get_header(name)
        if value or record.rec_type in ("revisit", "warcinfo"):
            return value
        data = record.raw_stream.read()
        record.raw_stream = io.BytesIO(data)  # the iterator reads the rest of the record from it
        return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def index_warc(stream: BinaryIO, key: str, out: TextIO | SortingWriter | _CountingWriter) -> int:
    """Write the CDXJ lines of one WARC (file order) to ``out``; ``filename`` is the store key.

    cdxj-indexer's defaults are pywb's: response, revisit, resource and metadata records, request
    records left out, revisits with mime ``warc/revisit``.
    """
    counter = _CountingWriter(out)
    _Indexer(output=None, inputs=[], filename=key).process_one(stream, counter, key)
    return counter.lines


class _At:
    """Where the record being indexed was written (what a reading iterator would report)."""

    __slots__ = ("length", "offset")

    def __init__(self, offset: int, length: int) -> None:
        self.offset = offset
        self.length = length

    def get_record_offset(self) -> int:
        return self.offset

    def get_record_length(self) -> int:
        return self.length


def _head(raw: bytes) -> bytes:
    # The WARC headers, then (for records that carry one) the HTTP header block: what the index
    # reads of a record. Bytes of a payload past it are never looked at.
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw
    http_end = raw.find(b"\r\n\r\n", end + 4)
    return raw if http_end < 0 else raw[: http_end + 4]


# Printable ASCII and line ends: header lines made only of these read back as they were written,
# unless a parser would strip something (checked in _reads_back_as_written).
_PLAIN_HEADER_BYTES = bytes(range(0x20, 0x7F)) + b"\r\n"


def _reads_back_as_written(head: bytes) -> bool:
    """Whether warcio, reading these header blocks, would find exactly the (name, value) pairs
    they were written from: no byte outside printable ASCII, and no blank it would strip (around
    a name, before or after a value) or read as a folded line."""
    return (
        not head.translate(None, _PLAIN_HEADER_BYTES)
        and b" \r\n" not in head
        and b"\n " not in head
        and b" :" not in head
        and b":  " not in head
    )


class CrawlIndexLines:
    """A crawl's CDXJ lines, made as its WARC records are written rather than read back at commit
    (on S3, a download of every WARC of the crawl).

    Each record gets cdxj-indexer's line, at the offset and length it was written at, from the
    headers it was written from when they read back unchanged (plain ASCII, nothing a parser
    strips), else from its bytes up to the payload, read by warcio as a read-back reads them. The lines
    wait unsorted in an unnamed temporary file (nothing is left behind, even by a killed process).
    They stand for the crawl's index only when the crawl's
    manifest lists exactly the WARC files, with the record counts, this object saw (:meth:`covers`);
    anything else, or any failure here, and the crawl is indexed by reading its WARCs back.
    """

    def __init__(self, key_for: Callable[[str], str]) -> None:
        self._key_for = key_for
        self._indexer = _Indexer(output=None, inputs=[], filename="")
        self._lines: TextIO | None = tempfile.TemporaryFile(  # noqa: SIM115 (held across calls)
            "w+", encoding="utf-8", newline="\n", prefix="lifegate-index-"
        )
        self._counter = _CountingWriter(self._lines)
        self.records: dict[str, int] = {}  # WARC file name -> records written to it
        self.failure: str | None = None

    def add(self, name: str, record: Any, raw: bytes, location: RecordLocation) -> None:
        """Index one record written to WARC file ``name``: the warcio record that was written, its
        uncompressed bytes, and where it landed."""
        self.records[name] = self.records.get(name, 0) + 1
        if self.failure is not None or location.record_type not in _Indexer.DEFAULT_RECORDS:
            return
        try:
            head = _head(raw)
            if not _reads_back_as_written(head):
                # Read from the bytes, as a read-back would: the record's own headers may differ.
                record = next(self._indexer._create_record_iter(io.BytesIO(head)))
            if not self._indexer.filter_record(record):
                return
            if record.rec_type != "revisit" and not record.rec_headers.get_header(
                "WARC-Payload-Digest"
            ):
                # The digest would be computed from the payload, which is not read here.
                raise ValueError(f"{location.record_type} record without a payload digest")
            self._indexer.curr_filename = self._key_for(name)
            self._indexer.process_index_entry(
                _At(location.offset, location.length), record, name, self._counter
            )
        except Exception as exc:  # noqa: BLE001 (the crawl goes on; its index is read back)
            self.failure = f"{location.target_uri}: {type(exc).__name__}: {exc}"
            logger.warning(
                "Indexing while writing stopped (%s); the commit reads the WARCs back", self.failure
            )

    def covers(self, manifest_warcs: dict[str, int | None]) -> bool:
        """Whether these lines index exactly the WARC files (name -> records) a manifest lists."""
        return self.failure is None and manifest_warcs == self.records

    def sorted_into(self, path: Path, sort_buffer: int = SORT_BUFFER) -> int:
        """Write the lines, sorted, to ``path`` (once: the lines are discarded); returns how many."""
        unsorted = self._lines
        if unsorted is None:
            raise ValueError("the lines were discarded")
        unsorted.seek(0)
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            counter = _CountingWriter(out)
            sorter = SortingWriter(counter, sort_buffer)
            for line in unsorted:
                sorter.write(line)
            sorter.flush()
        self.discard()
        return counter.lines

    def discard(self) -> None:
        """Drop the lines (their temporary file goes with them)."""
        if self._lines is not None:
            self._lines.close()
            self._lines = None


@dataclass(slots=True)
class IndexReport:
    """What one run of :func:`build_indexes` did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)
    records: int = 0
    merged_lines: int = 0
    merged_rebuilt: bool = False


def _read_state(storage: Storage) -> dict[str, Any]:
    empty: dict[str, Any] = {"format": STATE_FORMAT, "crawls": {}, "merged": {}}
    if not storage.exists(STATE_KEY):
        return empty
    try:
        with storage.open(STATE_KEY) as fh:
            state = json.load(fh)
    except (StorageError, ValueError) as exc:
        logger.warning("Unreadable %s, rebuilding every index: %s", STATE_KEY, exc)
        return empty
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return empty
    return state


def build_crawl_index(
    storage: Storage,
    crawl_id: str,
    *,
    sort_buffer: int = SORT_BUFFER,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, StoredObject]:
    """Index every WARC a committed crawl lists into ``crawls/<id>/index.cdxj``.

    Returns the number of lines and the stored object.
    """
    manifest = read_manifest(storage, crawl_id)
    keys = sorted(entry.key for entry in manifest.objects if entry.kind == "warc")
    with tempfile.TemporaryDirectory(prefix="lifegate-index-") as tmp:
        path = Path(tmp) / "index.cdxj"
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            counter = _CountingWriter(out)
            sorter = SortingWriter(counter, sort_buffer)
            for key in keys:
                if progress:
                    progress(f"{crawl_id}: indexing {key.rsplit('/', 1)[-1]}")
                with storage.open(key) as fh:
                    index_warc(fh, key, sorter)
            sorter.flush()
        stored = storage.put_file(crawl_index_key(crawl_id), path)
    return counter.lines, stored


def merge_indexes(
    storage: Storage, keys: Iterable[str], target: str = INDEX_KEY
) -> tuple[int, StoredObject]:
    """Merge sorted CDXJ objects into one sorted object ``target`` (duplicate lines dropped)."""
    lines = 0
    with tempfile.TemporaryDirectory(prefix="lifegate-index-") as tmp:
        path = Path(tmp) / "merged.cdxj"
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(path, "w", encoding="utf-8", newline="\n"))
            inputs = [
                stack.enter_context(io.TextIOWrapper(storage.open(key), "utf-8", newline="\n"))
                for key in keys
            ]
            last = None
            for line in heapq.merge(*inputs):
                if line != last and line.strip():
                    out.write(line if line.endswith("\n") else line + "\n")
                    lines += 1
                last = line
        stored = storage.put_file(target, path)
    return lines, stored


def _store_written_index(
    storage: Storage, crawl_id: str, written: CrawlIndexLines, sort_buffer: int
) -> tuple[int, StoredObject] | None:
    manifest = read_manifest(storage, crawl_id)
    warcs = {
        entry.key.rsplit("/", 1)[-1]: entry.records
        for entry in manifest.objects
        if entry.kind == "warc"
    }
    if not written.covers(warcs):
        logger.info(
            "Crawl %s: the lines made while writing do not cover it, reading it back", crawl_id
        )
        return None
    with tempfile.TemporaryDirectory(prefix="lifegate-index-") as tmp:
        path = Path(tmp) / "index.cdxj"
        lines = written.sorted_into(path, sort_buffer)
        return lines, storage.put_file(crawl_index_key(crawl_id), path)


def build_indexes(
    storage: Storage,
    progress: Callable[[str], None] | None = None,
    *,
    sort_buffer: int = SORT_BUFFER,
    written: dict[str, CrawlIndexLines] | None = None,
) -> IndexReport:
    """(Re)build the per-crawl indexes that changed, then the merged one if any input changed.

    A crawl's index is current when ``indexes/state.json`` records the SHA-256 of the manifest it
    was built from and the index object still has the recorded size; crawls without a manifest
    are skipped (not committed yet). A crawl in ``written`` is indexed from the lines made while
    its WARCs were written, when they cover it (:meth:`CrawlIndexLines.covers`).
    """
    say = progress or (lambda message: None)
    report = IndexReport()
    old = _read_state(storage)
    sizes = {stored.key: stored.size for stored in storage.list()}
    state: dict[str, Any] = {"format": STATE_FORMAT, "crawls": {}, "merged": {}}
    committed = set(committed_crawls(storage))
    for crawl_id in crawl_ids(storage):
        if crawl_id not in committed:
            report.uncommitted.append(crawl_id)
            say(f"{crawl_id}: not committed (no manifest), skipped")
            continue
        manifest_sha = sha256_object(storage, manifest_key(crawl_id))
        known = old["crawls"].get(crawl_id) or {}
        if known.get("manifest_sha256") == manifest_sha and known.get("size") == sizes.get(
            crawl_index_key(crawl_id)
        ):
            state["crawls"][crawl_id] = known
            report.unchanged.append(crawl_id)
            report.records += int(known.get("lines", 0))
            say(f"{crawl_id}: index unchanged ({known.get('lines', 0)} records)")
            continue
        done = None
        if written and crawl_id in written:
            done = _store_written_index(storage, crawl_id, written[crawl_id], sort_buffer)
        if done is None:
            done = build_crawl_index(storage, crawl_id, sort_buffer=sort_buffer, progress=progress)
        lines, stored = done
        state["crawls"][crawl_id] = {
            "manifest_sha256": manifest_sha,
            "sha256": stored.sha256,
            "size": stored.size,
            "lines": lines,
        }
        report.indexed.append(crawl_id)
        report.records += lines
        say(f"{crawl_id}: {lines} records indexed")

    if not state["crawls"]:
        return report  # nothing to index: write nothing (a mistyped store stays absent)
    inputs = {cid: entry["sha256"] for cid, entry in sorted(state["crawls"].items())}
    merged = old.get("merged") or {}
    if merged.get("inputs") == inputs and merged.get("size") == sizes.get(INDEX_KEY):
        state["merged"] = merged
        report.merged_lines = int(merged.get("lines", 0))
    else:
        say(f"merging {len(inputs)} crawl indexes into {INDEX_KEY}")
        lines, stored = merge_indexes(storage, [crawl_index_key(cid) for cid in inputs])
        state["merged"] = {"inputs": inputs, "size": stored.size, "lines": lines}
        report.merged_lines = lines
        report.merged_rebuilt = True
    if state != old:
        storage.put_bytes(STATE_KEY, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())
    return report
