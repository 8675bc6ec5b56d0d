"""Dataset releases: export (Parquet + JSONL.gz shards, card, delta, manifest last) and download.

A release lives under ``datasets/<name>/`` and never changes once its manifest is published; the
manifest is created only if absent (``create_exclusive``), so two exports cannot both publish a name.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

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
from archive.shard import ROW_SCHEMA, write_shards
from archive.software import RELEASE_COMPONENTS, software_versions
from archive.storage import Storage, StorageError, sha256_file, validate_key
from archive.takedown import TakedownList

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


class ReleaseExists(DatasetError):
    """The release name is already published; releases are immutable."""


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
