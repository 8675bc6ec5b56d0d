"""Verification of a store: every crawl committed, every object as its manifest says, every WARC
complete (all gzip members whole) with block and payload digests that match."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive.crawl import CRAWLS_PREFIX, crawl_ids, crawl_prefix, manifest_key, read_manifest
from archive.gzip_members import scan_members
from archive.storage import Storage, StorageError

logger = logging.getLogger(__name__)
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one object; printed as one line."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """Counts of what was checked, and the problems found."""

    crawls: int = 0
    objects: int = 0
    warc_files: int = 0
    records: int = 0
    bytes: int = 0
    problems: list[Problem] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.problems is None:
            self.problems = []

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256_object(storage: Storage, key: str) -> str:
    """SHA-256 of a stored object, streamed."""
    digest = hashlib.sha256()
    with storage.open(key) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_warc(
    storage: Storage, key: str, size: int, *, warcinfo_first: bool = True
) -> tuple[int, list[str]]:
    """Record count and problems of one WARC: gzip completeness, warcinfo first, digests.

    ``warcinfo_first`` holds this project's files to WARC 1.1's recommendation; files from other
    tools may begin with any record.
    """
    problems: list[str] = []
    if key.endswith(".gz"):
        with storage.open(key) as fh:
            scan = scan_members(fh, size)
        if not scan.complete:
            problems.append(
                f"{scan.error or 'trailing bytes'} ({size - scan.complete_until} of {size} bytes "
                f"after the last complete record)"
            )
    records = 0
    try:
        with storage.open(key) as fh:
            for record in ArchiveIterator(fh, check_digests=True):
                record_type = record.rec_headers.get_header("WARC-Type")
                if warcinfo_first and records == 0 and record_type != "warcinfo":
                    problems.append(f"first record is {record_type}, not warcinfo")
                # Reading the raw block drives warcio's digest check without decoding the body.
                while record.raw_stream.read(_CHUNK):
                    pass
                if record.digest_checker.passed is False:
                    record_id = record.rec_headers.get_header("WARC-Record-ID")
                    for problem in record.digest_checker.problems:
                        problems.append(f"record {record_id}: {problem}")
                records += 1
    except (ArchiveLoadFailed, ValueError, OSError) as exc:
        problems.append(f"unreadable after {records} records: {exc}")
    return records, problems


def _check_jsonl(storage: Storage, key: str) -> list[str]:
    with storage.open(key) as fh:
        for number, line in enumerate(fh, 1):
            try:
                json.loads(line)
            except ValueError:
                return [f"line {number} is not JSON"]
    return []


def verify_store(storage: Storage, progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Check every crawl in ``storage``; never raises for a bad object, reports it instead."""
    report = VerifyReport()
    for path in storage.unfinished(CRAWLS_PREFIX):
        report.problems.append(
            Problem(str(path), "unfinished file (a crawl is running or was killed)")
        )
    for crawl_id in crawl_ids(storage):
        report.crawls += 1
        if progress:
            progress(crawl_id)
        report.problems.extend(_verify_crawl(storage, crawl_id, report))
    return report


def _verify_crawl(storage: Storage, crawl_id: str, report: VerifyReport) -> Iterator[Problem]:
    prefix = crawl_prefix(crawl_id)
    mkey = manifest_key(crawl_id)
    # The CDXJ index is derived from the committed WARCs after the commit; it is not part of it.
    derived = {mkey, f"{prefix}index.cdxj"}
    present = {o.key: o for o in storage.list(prefix) if o.key not in derived}
    if not storage.exists(mkey):
        yield Problem(prefix, "no manifest: the crawl did not finish (run a crawl to recover it)")
        return
    try:
        manifest = read_manifest(storage, crawl_id)
    except (StorageError, ValueError, TypeError) as exc:
        yield Problem(mkey, f"unreadable manifest: {exc}")
        return
    listed = {entry.key for entry in manifest.objects}
    for key in sorted(set(present) - listed):
        yield Problem(key, "not listed in the manifest")
    for entry in manifest.objects:
        stored = present.get(entry.key)
        if stored is None:
            yield Problem(entry.key, "listed in the manifest but missing")
            continue
        report.objects += 1
        report.bytes += stored.size
        if stored.size != entry.size:
            yield Problem(entry.key, f"size {stored.size}, manifest says {entry.size}")
        elif sha256_object(storage, entry.key) != entry.sha256:
            yield Problem(entry.key, "sha256 does not match the manifest")
        if entry.kind == "warc":
            report.warc_files += 1
            records, problems = check_warc(storage, entry.key, stored.size)
            report.records += records
            for message in problems:
                yield Problem(entry.key, message)
            if entry.records is not None and records != entry.records:
                yield Problem(entry.key, f"{records} records, manifest says {entry.records}")
        elif entry.key.endswith(".jsonl"):
            for message in _check_jsonl(storage, entry.key):
                yield Problem(entry.key, message)
