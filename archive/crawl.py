"""A crawl's place in the store: the keys of its files, and the manifest that commits it.

Layout (one folder per crawl; the manifest is written last, so a crawl without one is visibly
incomplete)::

    crawls/<crawl-id>/warc/<PREFIX>-<timestamp>-<serial>-<host>.warc.gz
    crawls/<crawl-id>/text/articles.jsonl
    crawls/<crawl-id>/events.jsonl
    crawls/<crawl-id>/ledger.jsonl      (what the crawl learnt about each article: the ledger's journal)
    crawls/<crawl-id>/report.json
    crawls/<crawl-id>/manifest.json
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.storage import Storage, StorageError, StoredObject

logger = logging.getLogger(__name__)

CRAWLS_PREFIX = "crawls/"
MANIFEST_FORMAT = "lifegate-archive/crawl-manifest/1"
_CRAWL_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9_.-]+$")


def new_crawl_id(spider: str, now: datetime | None = None) -> str:
    """``20261128T091500Z-lifegate``: sortable by start time, names the spider."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", spider) or "crawl"
    return f"{now:%Y%m%dT%H%M%SZ}-{safe}"


def check_crawl_id(crawl_id: str) -> str:
    if not _CRAWL_ID.match(crawl_id):
        raise StorageError(f"not a crawl id: {crawl_id!r}")
    return crawl_id


def crawl_prefix(crawl_id: str) -> str:
    return f"{CRAWLS_PREFIX}{check_crawl_id(crawl_id)}/"


def warc_key(crawl_id: str, filename: str) -> str:
    return f"{crawl_prefix(crawl_id)}warc/{filename}"


def text_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}text/articles.jsonl"


def events_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}events.jsonl"


def ledger_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}ledger.jsonl"


def log_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}crawl.log"


def report_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}report.json"


def manifest_key(crawl_id: str) -> str:
    return f"{crawl_prefix(crawl_id)}manifest.json"


def object_kind(key: str) -> str:
    if key.endswith((".warc.gz", ".warc")):
        return "warc"
    if "/text/" in key:
        return "text"
    return "log"


@dataclass(slots=True)
class ManifestEntry:
    """One published object of a crawl."""

    key: str
    size: int
    sha256: str
    kind: str
    records: int | None = None

    @classmethod
    def from_stored(cls, stored: StoredObject, records: int | None = None) -> ManifestEntry:
        if stored.sha256 is None:
            raise StorageError(f"no checksum for {stored.key}")
        return cls(stored.key, stored.size, stored.sha256, object_kind(stored.key), records)


@dataclass(slots=True)
class CrawlManifest:
    """What a crawl committed to the store. Written last: its presence marks the crawl complete."""

    crawl_id: str
    spider: str
    started: str
    finished: str
    status: str  # Scrapy's finish reason, or "recovered" for a crawl closed by a later run
    objects: list[ManifestEntry] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> CrawlManifest:
        raw = json.loads(data)
        if raw.get("format") != MANIFEST_FORMAT:
            raise StorageError(f"unknown manifest format {raw.get('format')!r}")
        raw["objects"] = [ManifestEntry(**entry) for entry in raw.get("objects", [])]
        return cls(**raw)

    def write(self, storage: Storage) -> StoredObject:
        return storage.put_bytes(manifest_key(self.crawl_id), self.to_json())


def read_manifest(storage: Storage, crawl_id: str) -> CrawlManifest:
    with storage.open(manifest_key(crawl_id)) as fh:
        return CrawlManifest.from_json(fh.read())


def crawl_ids(storage: Storage) -> list[str]:
    """Every crawl with at least one object or unfinished file in the store, oldest first."""
    ids = set()
    for stored in storage.list(CRAWLS_PREFIX):
        ids.add(stored.key[len(CRAWLS_PREFIX) :].split("/", 1)[0])
    for path in storage.unfinished(CRAWLS_PREFIX):
        parts = path.as_posix().split("/" + CRAWLS_PREFIX, 1)
        if len(parts) == 2:
            ids.add(parts[1].split("/", 1)[0])
    return sorted(i for i in ids if _CRAWL_ID.match(i))


def is_committed(storage: Storage, crawl_id: str) -> bool:
    """Whether the crawl's manifest is in the store: written last, it commits the crawl."""
    return storage.exists(manifest_key(crawl_id))


def committed_crawls(storage: Storage) -> list[str]:
    """Crawls whose manifest is in the store (committed), oldest first."""
    return [c for c in crawl_ids(storage) if is_committed(storage, c)]


def iter_text_records(
    storage: Storage, crawl_id: str, problems: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The clean-text records of a crawl; see :func:`iter_jsonl` for lines that are not records."""
    key = text_key(crawl_id)
    if not storage.exists(key):
        return
    yield from iter_jsonl(storage, key, problems)


def iter_jsonl(
    storage: Storage, key: str, problems: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON Lines object. A line that is not one is skipped, logged and
    appended to ``problems`` as ``key:line: reason``, so a caller can count and show it."""
    with storage.open(key) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                reason = f"not JSON ({exc})"
            else:
                if isinstance(record, dict):
                    yield record
                    continue
                reason = f"a JSON {type(record).__name__}, not an object"
            message = f"{key}:{number}: skipped a line that is {reason}"
            logger.warning("%s", message)
            if problems is not None:
                problems.append(message)


def unreadable_objects(storage: Storage, crawl_id: str, kinds: tuple[str, ...]) -> list[str]:
    """The objects of ``kinds`` that a committed crawl's manifest lists but the store cannot give
    (missing, or not a regular file there): one line each."""
    try:
        manifest = read_manifest(storage, crawl_id)
    except (StorageError, ValueError, TypeError) as exc:
        return [f"{manifest_key(crawl_id)}: unreadable manifest ({exc})"]
    return [
        f"{entry.key}: listed in the crawl's manifest but missing or not a regular file"
        for entry in manifest.objects
        if entry.kind in kinds and not storage.exists(entry.key)
    ]
