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
from typing import Any, BinaryIO, TextIO

with warnings.catch_warnings():
    # cdxj-indexer imports pyamf, which imports pkg_resources and warns about it on every run.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from cdxj_indexer.main import CDXJIndexer, SortingWriter

from archive.crawl import committed_crawls, crawl_ids, manifest_key, read_manifest
from archive.index import INDEX_KEY, crawl_index_key
from archive.storage import Storage, StorageError, StoredObject
from archive.verify import sha256_object

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


def build_indexes(
    storage: Storage,
    progress: Callable[[str], None] | None = None,
    *,
    sort_buffer: int = SORT_BUFFER,
) -> IndexReport:
    """(Re)build the per-crawl indexes that changed, then the merged one if any input changed.

    A crawl's index is current when ``indexes/state.json`` records the SHA-256 of the manifest it
    was built from and the index object still has the recorded size; crawls without a manifest
    are skipped (not committed yet).
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
        lines, stored = build_crawl_index(
            storage, crawl_id, sort_buffer=sort_buffer, progress=progress
        )
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
