"""Recovery of files left ``.open`` by a killed process.

A writer flushes whole gzip members, so a killed run leaves complete records followed at most by a
torn one. Recovery keeps the complete records, cuts the torn tail and closes the file by renaming
it, as Heritrix operators do by hand with ``.open`` files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.atomic_file import finish
from archive.crawl import (
    CrawlManifest,
    ManifestEntry,
    crawl_ids,
    crawl_prefix,
    is_committed,
    manifest_key,
    object_kind,
)
from archive.gzip_members import scan_members
from archive.publisher import publish_spool
from archive.storage import Storage
from archive.verify import check_warc, sha256_object
from archive.warc import OPEN_SUFFIX

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveredFile:
    """What recovery did with one ``.open`` file."""

    source: Path
    path: Path | None  # the closed file, or None when nothing in it was complete
    records: int
    dropped_bytes: int


def recover_open_file(path: Path) -> RecoveredFile:
    """Close ``path`` (``*.warc.gz.open``) keeping its complete records."""
    path = Path(path)
    if not path.name.endswith(OPEN_SUFFIX):
        raise ValueError(f"not an .open file: {path}")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        scan = scan_members(fh, size)
    dropped = size - scan.complete_until
    if scan.members == 0:
        path.unlink()
        logger.warning("Removed %s: no complete record in %d bytes", path, size)
        return RecoveredFile(path, None, 0, dropped)
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if dropped:
        with open(path, "rb+") as fh:
            fh.truncate(scan.complete_until)
            finish(path, final, fh)
        logger.warning("Cut %d torn bytes from the end of %s (%s)", dropped, path, scan.error)
    else:
        finish(path, final)
    logger.info("Recovered %s: %d records", final, scan.members)
    return RecoveredFile(path, final, scan.members, dropped)


def _recover_jsonl(path: Path) -> Path:
    """Close a JSON Lines file, dropping a torn last line."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if keep != len(data):
        with open(path, "rb+") as fh:
            fh.truncate(keep)
            finish(path, final, fh)
        logger.warning("Cut a torn line (%d bytes) from the end of %s", len(data) - keep, path)
    else:
        finish(path, final)
    return final


def close_unfinished(paths: list[Path]) -> dict[Path, int | None]:
    """Close every unfinished file of a killed crawl; returns closed path -> WARC record count."""
    closed: dict[Path, int | None] = {}
    for path in paths:
        if path.name.endswith(".part"):
            path.unlink()  # an interrupted copy; its source is still there
        elif path.name.endswith((".warc.gz" + OPEN_SUFFIX, ".warc" + OPEN_SUFFIX)):
            recovered = recover_open_file(path)
            if recovered.path is not None:
                closed[recovered.path] = recovered.records
        elif path.name.endswith(OPEN_SUFFIX):
            closed[_recover_jsonl(path)] = None
    return closed


def recover_crawl(storage: Storage, crawl_id: str, software: dict[str, str] | None = None):
    """Close what a killed crawl left unfinished, publish it, and commit the crawl with a manifest.

    The manifest's status is ``recovered``; its objects are everything the crawl's folder holds.
    """
    prefix = crawl_prefix(crawl_id)
    closed = close_unfinished(list(storage.unfinished(prefix)))
    # A remote store's closed files sit in the spool until published.
    publish_spool(storage, prefix=prefix)
    record_counts = {path.name: records for path, records in closed.items()}
    mkey = manifest_key(crawl_id)
    entries = []
    for obj in storage.list(prefix):
        if obj.key == mkey:
            continue
        name = obj.key.rsplit("/", 1)[-1]
        records = record_counts.get(name)
        if records is None and object_kind(obj.key) == "warc":
            records, _ = check_warc(storage, obj.key, obj.size)
        entries.append(
            ManifestEntry(
                obj.key, obj.size, sha256_object(storage, obj.key), object_kind(obj.key), records
            )
        )
    now = datetime.now(UTC).isoformat()
    started = crawl_id.split("-", 1)[0]
    manifest = CrawlManifest(
        crawl_id=crawl_id,
        spider=crawl_id.split("-", 1)[1],
        started=datetime.strptime(started, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat(),
        finished=now,
        status="recovered",
        objects=entries,
        software=software or {},
    )
    manifest.write(storage)
    logger.warning(
        "Committed interrupted crawl %s as recovered: %d objects (%d files closed)",
        crawl_id,
        len(entries),
        len(closed),
    )
    return manifest


def recover_store(
    storage: Storage,
    software: dict[str, str] | None = None,
    skip: Callable[[str], bool] = lambda crawl_id: False,
) -> list[str]:
    """Recover every crawl in the store that has no manifest (except those ``skip`` names, being
    written by a live worker of the same distributed run); returns their ids."""
    recovered = []
    for crawl_id in crawl_ids(storage):
        if skip(crawl_id):
            continue
        if any(True for _ in storage.pending(crawl_prefix(crawl_id))):
            # Files (and maybe the manifest) of a crawl that could not reach the store: publish
            # them first, so a complete crawl is committed as it was, not as "recovered".
            publish_spool(storage, prefix=crawl_prefix(crawl_id))
        if not is_committed(storage, crawl_id):
            recover_crawl(storage, crawl_id, software)
            recovered.append(crawl_id)
    return recovered
