"""Dataset releases: export (Parquet + JSONL.gz shards, card, delta, manifest last) and download.

A release lives under ``datasets/<name>/`` and never changes once its manifest is published; the
manifest is created only if absent (``create_exclusive``), so two exports cannot both publish a name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from archive.atomic_file import atomic_write, write_atomic
from archive.dataset import (
    DatasetError,
    ExportOptions,
    ReleaseFile,
    ReleaseManifest,
    list_releases,
    read_release_manifest,
    release_manifest_key,
    release_prefix,
    row_date,
    select_rows,
)
from archive.dataset_card import render_card, render_jsonl_card
from archive.dedup import DedupConfig, deduplicate
from archive.software import RELEASE_COMPONENTS, software_versions
from archive.storage import Storage, StorageError, sha256_file, validate_key
from archive.takedown import TakedownList

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]

_STRING_LIST = pa.list_(pa.string())
# Parquet has no seconds unit; microseconds are what Spark, DuckDB and pandas write too.
_UTC = pa.timestamp("us", tz="UTC")
# Every column typed, so that a shard whose rows all have empty lists or no value still says what
# the column holds (the dataset card lists the same features).
ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("canonical_url", pa.string()),
        ("site", pa.string()),
        ("language", pa.string()),
        ("declared_language", pa.string()),
        ("title", pa.string()),
        ("kicker", pa.string()),
        ("standfirst", pa.string()),
        ("authors", _STRING_LIST),
        ("date_published", _UTC),
        ("date_published_offset", pa.string()),  # the page's zone, +HH:MM (None: it gave none)
        ("date_modified", _UTC),
        ("date_modified_offset", pa.string()),
        ("tags", _STRING_LIST),
        ("license", pa.string()),
        ("attribution", pa.string()),
        ("translation_of", pa.string()),
        (
            "images",
            pa.list_(
                pa.struct(
                    [
                        ("url", pa.string()),
                        ("caption", pa.string()),
                        ("credit", pa.string()),
                    ]
                )
            ),
        ),
        ("text", pa.string()),
        ("word_count", pa.int32()),
        ("text_sha256", pa.string()),
        ("content_sha256", pa.string()),
        ("crawl_id", pa.string()),
        ("fetched", _UTC),
        (
            "provenance",
            pa.struct(
                [
                    ("warc_key", pa.string()),
                    ("offset", pa.int64()),
                    ("length", pa.int64()),
                    ("record_id", pa.string()),
                    ("payload_digest", pa.string()),
                ]
            ),
        ),
        (
            "extractor",
            pa.struct(
                [
                    ("name", pa.string()),
                    ("version", pa.string()),
                    ("trafilatura_version", pa.string()),
                    ("config_hash", pa.string()),
                ]
            ),
        ),
        ("flags", _STRING_LIST),
        (
            "duplicates",
            pa.list_(
                pa.struct(
                    [
                        ("id", pa.string()),
                        ("url", pa.string()),
                        ("site", pa.string()),
                        ("language", pa.string()),
                        ("kind", pa.string()),
                        ("similarity", pa.float64()),
                        ("crawl_id", pa.string()),
                    ]
                )
            ),
        ),
    ]
)
# Rows are dicts of JSON values: timestamps are ``YYYY-MM-DDTHH:MM:SSZ`` strings until Parquet.
_ROW_JSON_SCHEMA = pa.schema(
    [f.with_type(pa.string()) if pa.types.is_timestamp(f.type) else f for f in ROW_SCHEMA]
)


def rows_table(rows: list[dict]) -> pa.Table:
    """Rows as a table of ``ROW_SCHEMA`` (timestamp columns parsed from their UTC strings)."""
    return pa.Table.from_pylist(rows, schema=_ROW_JSON_SCHEMA).cast(ROW_SCHEMA)


# zstd's own default level: ~3x smaller than the JSON for news text at a few hundred MB/s.
ZSTD_LEVEL = 3


class ReleaseExists(DatasetError):
    """The release name is already published; releases are immutable."""


def _dir_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", value) or "unknown"


def partition_dir(site: str, language: str) -> str:
    """``<site>/<language>``: plain folder names, not ``key=value``, because the values are
    already columns and hive-style keys would clash with them in pyarrow and DuckDB discovery."""
    return f"{_dir_name(site)}/{_dir_name(language)}"


class _PartitionWriter:
    """Writes one site/language partition as numbered shards, each as Parquet and as JSONL.gz."""

    def __init__(self, root: Path, site: str, language: str, options: ExportOptions) -> None:
        self.root, self.site, self.language, self.options = root, site, language, options
        self.files: list[ReleaseFile] = []
        self.locations: dict[str, str] = {}
        self._part = 0
        self._open()

    def _paths(self) -> tuple[str, str]:
        where = partition_dir(self.site, self.language)
        return (
            f"data/{where}/part-{self._part:05d}.parquet",
            f"jsonl/{where}/part-{self._part:05d}.jsonl.gz",
        )

    def _open(self) -> None:
        self.parquet_path, self.jsonl_path = self._paths()
        for rel in self._paths():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        self._parquet = pq.ParquetWriter(
            self.root / self.parquet_path,
            ROW_SCHEMA,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
        )
        self._raw = open(self.root / self.jsonl_path, "wb")  # noqa: SIM115 (held across writes)
        # mtime 0 and no file name: the same rows always give the same bytes (RFC 1952 §2.3).
        self._jsonl = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._rows = 0

    def write(self, rows: list[dict]) -> None:
        self._parquet.write_table(rows_table(rows))
        lines = [json.dumps({k: r[k] for k in ROW_SCHEMA.names}, ensure_ascii=False) for r in rows]
        self._jsonl.write(("\n".join(lines) + "\n").encode("utf-8"))
        for row in rows:
            self.locations[row["id"]] = self.parquet_path
        self._rows += len(rows)
        limit = self.options.max_shard_bytes
        if os.path.getsize(self.root / self.parquet_path) >= limit or self._raw.tell() >= limit:
            self._close()
            self._part += 1
            self._open()

    def _close(self) -> None:
        self._parquet.close()
        self._jsonl.close()
        self._raw.close()
        if self._rows:
            for rel, kind in ((self.parquet_path, "parquet"), (self.jsonl_path, "jsonl")):
                path = self.root / rel
                self.files.append(
                    ReleaseFile(
                        rel,
                        path.stat().st_size,
                        sha256_file(path),
                        kind,
                        self._rows,
                        self.site,
                        self.language,
                    )
                )
        else:
            for rel in (self.parquet_path, self.jsonl_path):
                (self.root / rel).unlink()

    def close(self) -> list[ReleaseFile]:
        self._close()
        return self.files


def write_shards(
    rows: list[dict], root: Path, options: ExportOptions, progress: Progress | None = None
) -> tuple[list[ReleaseFile], dict[str, str]]:
    """Every row into ``root``: shards per site and language, rows in id order. Returns the files
    and, for each row id, the Parquet file that holds it."""
    partitions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        partitions[(row["site"], row["language"])].append(row)
    files: list[ReleaseFile] = []
    locations: dict[str, str] = {}
    written = 0
    for (site, language), members in sorted(partitions.items()):
        members.sort(key=lambda r: r["id"])
        writer = _PartitionWriter(root, site, language, options)
        step = max(1, options.row_group_rows)
        for start in range(0, len(members), step):
            writer.write(members[start : start + step])
            written += len(members[start : start + step])
        files += writer.close()
        locations.update(writer.locations)
        if progress:
            progress(f"wrote {site}/{language}: {len(members)} rows ({written}/{len(rows)})")
    return files, locations


def release_counts(rows: list[dict]) -> dict:
    """Counts by site, language, month, licence and extractor for the manifest and the card."""
    by_site_language: dict[str, Counter] = defaultdict(Counter)
    licences: dict[str, Counter] = defaultdict(Counter)
    extractors: Counter = Counter()
    for row in rows:
        by_site_language[row["site"]][row["language"]] += 1
        licences[row["site"]][row["license"] or "none stated"] += 1
        ex = row["extractor"]
        extractors[
            f"{ex['version']} (trafilatura {ex['trafilatura_version']}, "
            f"config {str(ex['config_hash'])[:12]})"
        ] += 1
    return {
        "rows": len(rows),
        "words": sum(r["word_count"] for r in rows),
        "by_site": dict(sorted(Counter(r["site"] for r in rows).items())),
        "by_language": dict(sorted(Counter(r["language"] for r in rows).items())),
        "by_month": dict(sorted(Counter(row_date(r)[:7] for r in rows).items())),
        "by_site_language": {
            s: dict(sorted(c.items())) for s, c in sorted(by_site_language.items())
        },
        "licences": {s: dict(sorted(c.items())) for s, c in sorted(licences.items())},
        "extractors": dict(sorted(extractors.items())),
    }


def _parquet_source(storage: Storage, key: str):
    fh = storage.open(key)
    if fh.seekable():
        return fh
    with fh:
        return io.BytesIO(fh.read())


def release_ids(storage: Storage, manifest: ReleaseManifest) -> dict[str, str]:
    """id -> content_sha256 of every row of a published release (two columns read)."""
    ids: dict[str, str] = {}
    for entry in manifest.files:
        if entry.kind != "parquet":
            continue
        with _parquet_source(storage, release_prefix(manifest.name) + entry.path) as source:
            table = pq.read_table(source, columns=["id", "content_sha256"])
        ids.update(
            zip(
                table.column("id").to_pylist(),
                table.column("content_sha256").to_pylist(),
                strict=True,
            )
        )
    return ids


def compute_delta(
    previous: dict[str, str],
    rows: Iterable[dict],
    locations: dict[str, str],
    fates: dict[str, str],
    merged: dict[str, str],
) -> list[dict]:
    """Added, changed and removed rows against the previous release, with where each now lives."""
    delta = []
    current = set()
    for row in rows:
        current.add(row["id"])
        before = previous.get(row["id"])
        if before is None or before != row["content_sha256"]:
            change = "added" if before is None else "changed"
            delta.append({"id": row["id"], "change": change, "file": locations[row["id"]]})
    for row_id in sorted(set(previous) - current):
        entry = {"id": row_id, "change": "removed"}
        if row_id in merged:
            entry.update(reason="duplicate", duplicate_of=merged[row_id])
        else:
            entry["reason"] = fates.get(row_id, "gone")
        delta.append(entry)
    order = {"added": 0, "changed": 1, "removed": 2}
    return sorted(delta, key=lambda e: (order[e["change"]], e["id"]))


def clean_unpublished(storage: Storage, name: str) -> int:
    """Remove what an interrupted export of ``name`` left (objects without a manifest, partial files)."""
    prefix = release_prefix(name)
    removed = 0
    for stored in list(storage.list(prefix)):
        storage.delete(stored.key)
        removed += 1
    for path in list(storage.unfinished(prefix)):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def export_release(
    storage: Storage,
    options: ExportOptions,
    progress: Progress | None = None,
    workdir: Path | None = None,
) -> ReleaseManifest:
    """Build and publish release ``options.name`` from every committed crawl of ``storage``."""
    say = progress or (lambda message: None)
    name = options.name
    if storage.exists(release_manifest_key(name)):
        raise ReleaseExists(
            f"release {name} already exists in {storage.uri}: releases never change; "
            "choose another --name"
        )
    left = clean_unpublished(storage, name)
    if left:
        say(f"removed {left} files an interrupted export of {name} left behind")
    takedowns = TakedownList.from_store(storage, options.takedown_key)
    selection = select_rows(storage, options, takedowns, say)
    if not selection.crawls:
        raise DatasetError(f"no committed crawls in {storage.uri}: nothing to export")
    if not selection.rows:
        stats = selection.stats
        raise DatasetError(
            f"no article left to export from {len(selection.crawls)} crawls "
            f"({stats['articles']} articles: {stats['taken_down']} taken down, "
            f"{stats['filtered_language'] + stats['filtered_site'] + stats['filtered_since']} filtered)"
        )
    say(f"deduplicating {len(selection.rows)} articles")
    result = deduplicate(
        selection.rows,
        DedupConfig(
            threshold=options.near_duplicate_threshold,
            num_perm=options.num_perm,
            shingle_words=options.shingle_words,
            original_sites=options.original_sites,
        ),
    )
    releases = [m for m in list_releases(storage) if m.name != name]
    previous = releases[-1] if releases else None
    previous_ids = release_ids(storage, previous) if previous else {}
    created = (options.created or datetime.now(UTC)).astimezone(UTC)

    with tempfile.TemporaryDirectory(prefix=f"release-{name}-", dir=workdir) as tmp:
        root = Path(tmp)
        files, locations = write_shards(result.rows, root, options, say)
        delta = compute_delta(previous_ids, result.rows, locations, selection.fates, result.merged)
        delta_counts = dict(Counter(e["change"] for e in delta))
        with open(root / "delta.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in delta)
        files.append(
            ReleaseFile(
                "delta.jsonl",
                (root / "delta.jsonl").stat().st_size,
                sha256_file(root / "delta.jsonl"),
                "delta",
                len(delta),
            )
        )
        manifest = ReleaseManifest(
            name=name,
            created=created.isoformat(timespec="seconds"),
            previous=previous.name if previous else None,
            counts={**release_counts(result.rows), "selection": selection.stats},
            dedup=result.stats,
            delta={k: delta_counts.get(k, 0) for k in ("added", "changed", "removed")},
            sources={
                "crawls": selection.crawls,
                "reextracted": selection.reextracted,
                "reextract_config_hash": options.reextract_hash,
                "takedown_entries": len(takedowns),
                "problems": (selection.damaged + selection.bad_lines)[:100],
            },
            options=_options_record(options),
            software=software_versions(*RELEASE_COMPONENTS),
        )
        for path, text in (
            ("README.md", render_card(manifest, ROW_SCHEMA)),
            ("jsonl/README.md", render_jsonl_card(manifest, ROW_SCHEMA)),
        ):
            card = text.encode("utf-8")
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(card)
            files.append(ReleaseFile(path, len(card), hashlib.sha256(card).hexdigest(), "card"))
        manifest.files = sorted(files, key=lambda f: f.path)
        prefix = release_prefix(name)
        for done, entry in enumerate(manifest.files, 1):
            stored = storage.put_file(prefix + entry.path, root / entry.path)
            if stored.sha256 not in (None, entry.sha256) or stored.size != entry.size:
                raise DatasetError(
                    f"{prefix + entry.path}: the store holds different bytes than written"
                )
            if done % 50 == 0 or done == len(manifest.files):
                say(f"published {done}/{len(manifest.files)} files")
    # The manifest goes last and only if absent: it is the commit marker and the immutability lock.
    if not storage.create_exclusive(release_manifest_key(name), manifest.to_json()):
        raise ReleaseExists(f"release {name} was published by another export meanwhile")
    return manifest


def _options_record(options: ExportOptions) -> dict:
    record = asdict(options)
    for key in ("languages", "sites", "original_sites"):
        if record[key] is not None:
            record[key] = sorted(record[key])
    record["since"] = options.since.isoformat() if options.since else None
    record["created"] = None
    record["site_aliases"] = dict(options.site_aliases)
    return record


# ------------------------------------------------------------------ download


@dataclass(slots=True)
class DownloadReport:
    """What a download fetched, reused (already present and intact) and found wrong."""

    name: str
    path: Path
    files: int = 0
    bytes: int = 0
    reused: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _ChecksumMismatch(Exception):
    """A downloaded file differs from what the release manifest says (the file is discarded)."""


def _copy_hashing(src: BinaryIO, out: BinaryIO) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := src.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def download_release(
    storage: Storage, name: str, dest: Path, progress: Progress | None = None
) -> DownloadReport:
    """Fetch release ``name`` into ``dest/<name>/``, checking every file against the manifest.

    Files already present with the right checksum are kept (a re-run resumes). The manifest is
    written last, and only when every file checked out.
    """
    manifest = read_release_manifest(storage, name)
    root = Path(dest) / name
    report = DownloadReport(name, root)
    prefix = release_prefix(name)
    for done, entry in enumerate(manifest.files, 1):
        target = root / validate_key(entry.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if (
            target.is_file()
            and target.stat().st_size == entry.size
            and sha256_file(target) == entry.sha256
        ):
            report.reused += 1
            continue
        try:
            with atomic_write(target) as out, storage.open(prefix + entry.path) as src:
                size, sha = _copy_hashing(src, out)
                if size != entry.size or sha != entry.sha256:
                    raise _ChecksumMismatch(
                        f"{entry.path}: checksum mismatch (manifest sha256 {entry.sha256[:16]}…, "
                        f"{entry.size} bytes; got {sha[:16]}…, {size} bytes)"
                    )
        except (StorageError, OSError) as exc:  # one line per unreadable object, then the rest
            report.problems.append(f"{entry.path}: cannot read from the store ({exc})")
            continue
        except _ChecksumMismatch as exc:
            report.problems.append(str(exc))
            continue
        report.files += 1
        report.bytes += size
        if progress and (done % 20 == 0 or done == len(manifest.files)):
            progress(f"{done}/{len(manifest.files)} files checked")
    if report.ok:
        write_atomic(root / "manifest.json", manifest.to_json())
    return report
