"""The clean-text dataset: what a row is, which captures become rows, takedowns, byte-range provenance.

Plain library: ``cli/commands/export.py`` passes every option in (``ExportOptions``); releases
are written by :mod:`archive.release`, deduplicated by :mod:`archive.dedup`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from archive.crawl import (
    committed_crawls,
    iter_jsonl,
    iter_text_records,
    unreadable_objects,
    warc_key,
)
from archive.storage import Storage, StorageError
from archive.takedown import TAKEDOWN_KEY, TakedownList

logger = logging.getLogger(__name__)

REEXTRACT_PREFIX = "reextract/"
ORIGINAL_SITES = frozenset({"lifegate.it", "lifegate.com"})
# Names a row's source in its attribution line (CC BY 4.0 §3(a)(1)(A)(i): the creator and
# attribution parties as the licensor asks).
SOURCE_NAMES = {"lifegate.it": "LifeGate", "lifegate.com": "LifeGate"}
# Fields that make up what a reader sees; a change in any of them makes a row "changed" in a delta.
CONTENT_FIELDS = (
    "url",
    "canonical_url",
    "site",
    "language",
    "title",
    "kicker",
    "standfirst",
    "authors",
    "date_published",
    "date_modified",
    "tags",
    "license",
    "translation_of",
    "images",
    "text",
)


class DatasetError(Exception):
    """An export or a release cannot be made or read; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Everything one export decides; the command line builds it, the library never reads settings."""

    name: str
    since: date | None = None
    languages: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    # host[:port] -> site name, for sites served from somewhere else (the offline demo on loopback).
    site_aliases: Mapping[str, str] = field(default_factory=dict)
    original_sites: frozenset[str] = ORIGINAL_SITES
    takedown_key: str = TAKEDOWN_KEY
    reextract_hash: str | None = None  # use reextract/<hash>/ for every crawl that has it
    require_reextract: bool = False
    near_duplicate_threshold: float = 0.8
    num_perm: int = 128
    shingle_words: int = 5
    max_shard_bytes: int = 256 * 1024 * 1024
    row_group_rows: int = 1000
    created: datetime | None = None  # injectable clock for reproducible tests
    # A crawl whose listed text file is missing or unreadable: fail (default) or leave it out.
    skip_damaged: bool = False


# ------------------------------------------------------------------ rows


def site_of(record: Mapping[str, Any], aliases: Mapping[str, str]) -> str:
    """The record's site, or the alias of the host[:port] it was served from."""
    if aliases:
        netloc = urlsplit(record.get("canonical_url") or record.get("url") or "").netloc.lower()
        for candidate in (netloc, netloc.removeprefix("www.")):
            if candidate in aliases:
                return aliases[candidate]
    return record.get("site") or ""


def attribution(row: Mapping[str, Any]) -> str:
    """The TASL line (title, author, source, licence) that CC licences ask every reuse to carry."""
    title = row.get("title") or "Untitled"
    authors = ", ".join(row.get("authors") or []) or "unknown author"
    source = SOURCE_NAMES.get(row["site"], row["site"])
    licence = row.get("license") or "no licence stated (publisher's terms apply)"
    line = f'"{title}" by {authors}, {source} ({row["canonical_url"]}), {licence}'
    if row.get("translation_of"):
        line += f"; translation of {row['translation_of']}"
    return line


def content_sha256(row: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {k: row.get(k) for k in CONTENT_FIELDS}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def utc_time(value: str | None, where: str = "") -> tuple[str | None, str | None]:
    """An ISO 8601 date or time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, and the zone it was given in
    as ``+HH:MM`` (None when it names none); (None, None) when absent or unreadable (logged).

    One spelling, to the second, so that every reader types the column alike: pyarrow and
    ``datasets`` infer JSON strings of this form as timestamps, DuckDB as TIMESTAMPTZ, and the
    Parquet copy stores them as ``timestamp[us, tz=UTC]``. A time without a zone is taken as UTC;
    a date alone is its midnight, UTC. The zone is kept as an offset rather than as the page's
    own string: JSON readers would read that string as a timestamp too, and lose its zone.
    """
    if not value:
        return None, None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        logger.warning("dataset: %s: %r is not an ISO 8601 date; left empty", where or "row", value)
        return None, None
    offset = moment.utcoffset()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if offset is None:
        return utc, None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return utc, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_time(utc: str, offset: str | None) -> str:
    """A row's UTC timestamp back in the zone the page gave (ISO 8601), or in UTC without one."""
    moment = datetime.fromisoformat(utc)
    if offset:
        moment = moment.astimezone(datetime.fromisoformat(f"2000-01-01T00:00:00{offset}").tzinfo)
    return moment.isoformat()


def captured_at(record: Mapping[str, Any], crawl_id: str) -> str:
    """When the page was fetched (ISO 8601, UTC); the crawl's start when the record does not say."""
    fetched = (record.get("crawl") or {}).get("fetched")
    if fetched:
        return fetched
    stamp = datetime.strptime(crawl_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return stamp.isoformat()


def to_row(
    record: Mapping[str, Any], crawl_id: str, aliases: Mapping[str, str] | None = None
) -> dict:
    """A dataset row from a clean-text record: its fields, attribution, and exact provenance."""
    prov = record.get("provenance") or {}
    extractor = record.get("extractor") or {}
    # UTC timestamps, and the zone the page gave them in (its local date and time).
    published, published_offset = utc_time(record.get("date_published"), record["url"])
    modified, modified_offset = utc_time(record.get("date_modified"), record["url"])
    row = {
        "id": record["id"],
        "url": record["url"],
        "canonical_url": record["canonical_url"],
        "site": site_of(record, aliases or {}),
        "language": record.get("language") or "und",
        "declared_language": record.get("declared_language"),
        "title": record.get("title"),
        "kicker": record.get("kicker"),
        "standfirst": record.get("standfirst"),
        "authors": list(record.get("authors") or []),
        "date_published": published,
        "date_published_offset": published_offset,
        "date_modified": modified,
        "date_modified_offset": modified_offset,
        "tags": list(record.get("tags") or []),
        "license": record.get("license"),
        "translation_of": record.get("translation_of"),
        "images": [
            {"url": i.get("url"), "caption": i.get("caption"), "credit": i.get("credit")}
            for i in record.get("images") or []
        ],
        "text": record["text"],
        "word_count": int(record.get("word_count") or len(record["text"].split())),
        "text_sha256": record.get("text_sha256")
        or hashlib.sha256(record["text"].encode("utf-8")).hexdigest(),
        "crawl_id": crawl_id,
        "fetched": utc_time(captured_at(record, crawl_id), record["url"])[0],
        "provenance": {
            "warc_key": warc_key(crawl_id, prov["warc_file"]) if prov.get("warc_file") else None,
            "offset": prov.get("offset"),
            "length": prov.get("length"),
            "record_id": prov.get("record_id"),
            "payload_digest": prov.get("payload_digest"),
        },
        "extractor": {
            "name": extractor.get("name"),
            "version": extractor.get("version"),
            "trafilatura_version": extractor.get("trafilatura_version"),
            "config_hash": extractor.get("config_hash"),
        },
        "flags": list(record.get("flags") or []),
        "duplicates": [],
    }
    row["attribution"] = attribution(row)
    row["content_sha256"] = content_sha256(row)
    return row


def is_original(row: Mapping[str, Any], original_sites: frozenset[str]) -> bool:
    """A publisher's own article (lifegate.it or .com), not a republication of one."""
    return row["site"] in original_sites and not row.get("translation_of")


def row_date(row: Mapping[str, Any]) -> str:
    """The article's own date for ``--since`` and monthly counts: published, modified, fetched.

    Dates are read in the zone the page gave, so an article published just after midnight in
    Italy counts on its own day, not on the UTC one before."""
    for name in ("date_published", "date_modified"):
        if row.get(name):
            return local_time(row[name], row.get(f"{name}_offset"))
    return row["fetched"]


# ------------------------------------------------------------------ sources


def reextract_key(config_hash: str, crawl_id: str) -> str:
    """Re-extracted text of one crawl with one extractor configuration (same lines as the crawl's)."""
    return f"{REEXTRACT_PREFIX}{config_hash}/{crawl_id}.jsonl"


def reextract_manifest_key(config_hash: str) -> str:
    return f"{REEXTRACT_PREFIX}{config_hash}/manifest.json"


@dataclass(slots=True)
class Selection:
    """The rows an export keeps (newest capture per article) and why every other article went."""

    rows: list[dict] = field(default_factory=list)
    fates: dict[str, str] = field(default_factory=dict)  # id -> taken-down | filtered | duplicate
    stats: dict[str, int] = field(default_factory=dict)
    crawls: list[str] = field(default_factory=list)
    reextracted: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)  # "key:line: reason", skipped
    damaged: list[str] = field(default_factory=list)  # listed files left out (--skip-damaged)


def select_rows(
    storage: Storage,
    options: ExportOptions,
    takedowns: TakedownList | None = None,
    progress: Callable[[str], None] | None = None,
) -> Selection:
    """Every committed crawl's records, newest capture of each article, takedowns and filters applied."""
    selection = Selection(crawls=committed_crawls(storage))
    newest: dict[str, dict] = {}
    captures = 0
    for crawl_id in selection.crawls:
        unreadable = unreadable_objects(storage, crawl_id, ("text",))
        if unreadable and not options.skip_damaged:
            raise DatasetError(
                f"{unreadable[0]} (crawl {crawl_id}); rerun with --skip-damaged to export without it"
            )
        selection.damaged += unreadable
        key = reextract_key(options.reextract_hash, crawl_id) if options.reextract_hash else None
        if key and storage.exists(key):
            records: Iterable[dict] = iter_jsonl(storage, key, selection.bad_lines)
            selection.reextracted.append(crawl_id)
        elif options.require_reextract:
            raise DatasetError(
                f"crawl {crawl_id} has no re-extracted text for extractor configuration "
                f"{options.reextract_hash[:12] if options.reextract_hash else '?'}: "
                "run `lifegate-archive reextract` first"
            )
        elif unreadable:
            continue
        else:
            records = iter_text_records(storage, crawl_id, selection.bad_lines)
        for record in records:
            try:
                row = to_row(record, crawl_id, options.site_aliases)
            except (KeyError, TypeError, ValueError, AttributeError, StorageError) as exc:
                message = f"{crawl_id}: skipped a record without the fields of a row ({exc!r})"
                logger.warning("%s", message)
                selection.bad_lines.append(message)
                continue
            captures += 1
            held = newest.get(row["id"])
            if held is None or (row["fetched"], crawl_id) >= (held["fetched"], held["crawl_id"]):
                newest[row["id"]] = row
        if progress:
            progress(f"read {crawl_id}: {captures} captures, {len(newest)} articles so far")
    counts = dict.fromkeys(
        ("taken_down", "filtered_language", "filtered_site", "filtered_since"), 0
    )
    since = options.since.isoformat() if options.since else None
    for row_id, row in sorted(newest.items()):
        if takedowns is not None and takedowns.blocks_record(row):
            reason, counter = "taken-down", "taken_down"
        elif options.languages and row["language"] not in options.languages:
            reason, counter = "filtered", "filtered_language"
        elif options.sites and row["site"] not in options.sites:
            reason, counter = "filtered", "filtered_site"
        elif since and row_date(row)[:10] < since:
            reason, counter = "filtered", "filtered_since"
        else:
            selection.rows.append(row)
            continue
        selection.fates[row_id] = reason
        counts[counter] += 1
    selection.stats = {
        "captures": captures,
        "articles": len(newest),
        "superseded_captures": captures - len(newest),
        **counts,
        "bad_lines": len(selection.bad_lines),
        "damaged_files": len(selection.damaged),
    }
    return selection


# ------------------------------------------------------------------ provenance


def record_provenance(record: Mapping[str, Any], crawl_id: str) -> dict[str, Any]:
    """A text record's provenance with the full store key of its WARC (``crawls/<id>/warc/<f>``)."""
    prov = dict(record.get("provenance") or {})
    if not prov.get("warc_file"):
        raise StorageError(f"record {record.get('id')} of {crawl_id} has no provenance")
    prov["warc_key"] = warc_key(crawl_id, prov["warc_file"])
    return prov


# ------------------------------------------------------------------ releases

RELEASES_PREFIX = "datasets/"
RELEASE_FORMAT = "lifegate-archive/dataset-release/1"
_RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_release_name(name: str) -> str:
    if not _RELEASE_NAME.match(name or ""):
        raise DatasetError(
            f"not a release name: {name!r} (letters, digits, '.', '_' and '-', e.g. v2026.11.28)"
        )
    return name


def release_prefix(name: str) -> str:
    return f"{RELEASES_PREFIX}{check_release_name(name)}/"


def release_manifest_key(name: str) -> str:
    return f"{release_prefix(name)}manifest.json"


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """One file of a release, relative to ``datasets/<name>/``; ``rows`` for data files."""

    path: str
    size: int
    sha256: str
    kind: str  # parquet | jsonl | card | delta
    rows: int | None = None
    site: str | None = None
    language: str | None = None


@dataclass(slots=True)
class ReleaseManifest:
    """What a release holds. Written last: a release without one was never published."""

    name: str
    created: str
    previous: str | None
    files: list[ReleaseFile] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    dedup: dict[str, Any] = field(default_factory=dict)
    delta: dict[str, int] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)
    format: str = RELEASE_FORMAT

    @property
    def rows(self) -> int:
        return int(self.counts.get("rows", 0))

    def to_json(self) -> bytes:
        return (
            json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ReleaseManifest:
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise DatasetError(f"release manifest is not JSON ({exc})") from exc
        if not isinstance(raw, dict) or raw.get("format") != RELEASE_FORMAT:
            raise DatasetError("not a release manifest (unknown format)")
        try:
            raw["files"] = [ReleaseFile(**entry) for entry in raw.get("files", [])]
            manifest = cls(**raw)
        except TypeError as exc:  # a field missing or unknown, a file entry that is no object
            raise DatasetError(f"release manifest is incomplete ({exc})") from exc
        for name in ("counts", "dedup", "delta", "sources", "options", "software"):
            if not isinstance(getattr(manifest, name), dict):
                raise DatasetError(f"release manifest: {name} is not an object")
        return manifest


def read_release_manifest(storage: Storage, name: str) -> ReleaseManifest:
    """The manifest of a published release; a one-line DatasetError naming the known ones if absent."""
    key = release_manifest_key(name)
    if not storage.exists(key):
        known = ", ".join(m.name for m in list_releases(storage)) or "none published"
        raise DatasetError(f"no release {name!r} in {storage.uri} (known: {known})")
    with storage.open(key) as fh:
        return ReleaseManifest.from_json(fh.read())


def list_releases(storage: Storage) -> list[ReleaseManifest]:
    """Every published release (those with a manifest), oldest first."""
    found = []
    for stored in storage.list(RELEASES_PREFIX):
        parts = stored.key[len(RELEASES_PREFIX) :].split("/")
        if len(parts) == 2 and parts[1] == "manifest.json" and _RELEASE_NAME.match(parts[0]):
            with storage.open(stored.key) as fh:
                try:
                    found.append(ReleaseManifest.from_json(fh.read()))
                except DatasetError as exc:
                    logger.warning("skipping %s: %s", stored.key, exc)
    return sorted(found, key=lambda m: (m.created, m.name))
