"""WACZ 1.1.1 export of crawls: their WARC files, a CDXJ index, the article pages and a data
package with the SHA-256 of every file, in one ZIP that ReplayWeb.page and pywb open
(https://specs.webrecorder.net/wacz/1.1.1/).

Pages on the store's takedown list never leave the archive this way: a WARC file holding records
of one goes into the ZIP as a copy without them (and is indexed again), and no page lists one.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from archive.atomic_file import atomic_write
from archive.crawl import committed_crawls, iter_text_records, read_manifest
from archive.index import CaptureEntry, crawl_index_key, iter_entries
from archive.indexer import SORT_BUFFER, SortingWriter, index_warc
from archive.software import project_title
from archive.storage import Storage, StorageError
from archive.takedown import TakedownList

WACZ_VERSION = "1.1.1"
PAGES_FORMAT = "json-pages-1.0"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WaczReport:
    """What went into a WACZ file."""

    path: Path
    crawls: tuple[str, ...]
    warc_files: int
    records: int
    pages: int
    bytes: int


class _HashingWriter:
    """Counts and hashes what passes through to a ZIP member."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)


def _committed(storage: Storage, wanted: Iterable[str] | None) -> list[str]:
    committed = committed_crawls(storage)
    if wanted is None:
        return committed
    chosen = list(dict.fromkeys(wanted))
    for crawl_id in chosen:
        if crawl_id not in committed:
            raise StorageError(f"no committed crawl {crawl_id!r} in {storage.uri}")
    return chosen


def _archive_names(storage: Storage, crawls: list[str]) -> dict[str, str]:
    """Store key → name inside ``archive/``; a name two crawls share gets its crawl id first."""
    keys = []
    for crawl_id in crawls:
        manifest = read_manifest(storage, crawl_id)
        keys += [(crawl_id, e.key) for e in manifest.objects if e.kind == "warc"]
    counts: dict[str, int] = {}
    for _, key in keys:
        base = key.rsplit("/", 1)[-1]
        counts[base] = counts.get(base, 0) + 1
    names = {}
    for crawl_id, key in keys:
        base = key.rsplit("/", 1)[-1]
        names[key] = base if counts[base] == 1 else f"{crawl_id}-{base}"
    return names


def _open(storage: Storage, key: str, replaced: dict[str, Path]) -> BinaryIO:
    return open(replaced[key], "rb") if key in replaced else storage.open(key)


def _without_withdrawn(
    storage: Storage, key: str, takedowns: TakedownList, path: Path
) -> Path | None:
    """A copy of WARC ``key`` without the records of withdrawn pages (every type: request,
    response, revisit, metadata), or None when it holds none. Kept records are copied byte for
    byte, so their digests and gzip members stay as they were. The copy is written to ``path``."""
    spans: list[tuple[int, int, bool]] = []
    with storage.open(key) as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            uri = record.rec_headers.get_header("WARC-Target-URI")
            withdrawn = bool(uri) and takedowns.blocks_url(uri)
            iterator.read_to_end(record)
            spans.append((iterator.get_record_offset(), iterator.get_record_length(), withdrawn))
    if not any(withdrawn for _, _, withdrawn in spans):
        return None
    with storage.open(key) as src, open(path, "wb") as out:
        position = 0
        for offset, length, withdrawn in spans:
            _skip(src, offset - position)
            position = offset
            left = length
            while left:
                chunk = src.read(min(left, _CHUNK))
                if not chunk:
                    break
                if not withdrawn:
                    out.write(chunk)
                left -= len(chunk)
                position += len(chunk)
    return path


def _skip(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, _CHUNK))
        if not chunk:
            return
        n -= len(chunk)


def _crawl_index_lines(
    storage: Storage,
    crawl_id: str,
    keys: list[str],
    tmp: Path,
    replaced: dict[str, Path] | None = None,
) -> Iterable[str]:
    """The crawl's CDXJ lines: its stored index when there is one and none of its WARC files was
    replaced by a filtered copy, else built now."""
    replaced = replaced or {}
    key = crawl_index_key(crawl_id)
    if storage.exists(key) and not any(k in replaced for k in keys):
        with io.TextIOWrapper(storage.open(key), "utf-8", newline="\n") as fh:
            yield from fh
        return
    path = tmp / f"{crawl_id}.cdxj"
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for warc in keys:
            with _open(storage, warc, replaced) as fh:
                index_warc(fh, warc, out)
    with open(path, encoding="utf-8", newline="\n") as fh:
        yield from fh


def _write_index(
    storage: Storage,
    crawls: list[str],
    names: dict[str, str],
    path: Path,
    replaced: dict[str, Path],
    takedowns: TakedownList,
) -> int:
    """A sorted CDXJ of the selected crawls whose ``filename`` is the name inside ``archive/``."""
    lines = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        sorter = SortingWriter(out, SORT_BUFFER)
        for crawl_id in crawls:
            keys = [k for k in names if k.startswith(f"crawls/{crawl_id}/")]
            source = _crawl_index_lines(storage, crawl_id, keys, path.parent, replaced)
            for entry in iter_entries(source):
                if entry.filename in names and not takedowns.blocks_key(entry.urlkey):
                    sorter.write(_renamed(entry, names[entry.filename]).to_line())
                    lines += 1
        sorter.flush()
    return lines


def _renamed(entry: CaptureEntry, filename: str) -> CaptureEntry:
    return CaptureEntry(
        entry.urlkey, entry.timestamp, entry.url, entry.mime, entry.status, entry.digest,
        entry.length, entry.offset, filename, entry.position, entry.extra,
    )  # fmt: skip


def _pages(storage: Storage, crawls: list[str], takedowns: TakedownList) -> list[dict[str, str]]:
    pages = []
    for crawl_id in crawls:
        for record in iter_text_records(storage, crawl_id):
            if takedowns.blocks_record(record):
                continue
            fetched = str((record.get("crawl") or {}).get("fetched") or "")
            try:
                moment = datetime.fromisoformat(fetched)
            except ValueError:
                continue
            stamp = moment.astimezone(UTC)
            pages.append(
                {
                    "id": f"{record.get('id', '')}-{stamp:%Y%m%d%H%M%S}",
                    "url": str(record.get("url", "")),
                    "ts": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "title": str(record.get("title") or ""),
                }
            )
    return pages


def write_wacz(
    storage: Storage,
    out: Path,
    crawls: Iterable[str] | None = None,
    *,
    title: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[str], None] | None = None,
    takedowns: TakedownList | None = None,
) -> WaczReport:
    """Write ``out`` (built as ``out.part``, renamed when complete) from committed crawls.

    WARC files are stored uncompressed in the ZIP (they are gzip already, and the spec asks for
    it so that replay can read records by range); index and pages are deflated.
    """
    say = progress or (lambda message: None)
    takedowns = TakedownList.from_store(storage) if takedowns is None else takedowns
    chosen = _committed(storage, crawls)
    if not chosen:
        raise StorageError(f"no committed crawls in {storage.uri}")
    names = _archive_names(storage, chosen)
    now = clock().astimezone(UTC)
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    out = Path(out)
    resources = []

    def member(zf: zipfile.ZipFile, path: str, source: BinaryIO, compress: int) -> None:
        info = zipfile.ZipInfo(path, stamp)
        info.compress_type = compress
        with zf.open(info, "w", force_zip64=True) as dest:
            writer = _HashingWriter(dest)
            while chunk := source.read(_CHUNK):
                writer.write(chunk)
        resources.append(
            {"name": path.rsplit("/", 1)[-1].lower(), "path": path,
             "hash": f"sha256:{writer.sha256.hexdigest()}", "bytes": writer.size}
        )  # fmt: skip

    with (
        atomic_write(out) as wacz_file,
        tempfile.TemporaryDirectory(prefix="lifegate-wacz-") as tmp,
        zipfile.ZipFile(wacz_file, "w", allowZip64=True) as zf,
    ):
        replaced: dict[str, Path] = {}
        for key, name in names.items():
            say(f"adding {key}")
            if takedowns:
                filtered = _without_withdrawn(
                    storage, key, takedowns, Path(tmp) / f"filtered-{name}"
                )
                if filtered is not None:
                    say(f"{key}: withdrawn pages left out")
                    replaced[key] = filtered
            with _open(storage, key, replaced) as fh:
                member(zf, f"archive/{name}", fh, zipfile.ZIP_STORED)
        say("indexing")
        index_path = Path(tmp) / "index.cdxj"
        records = _write_index(storage, chosen, names, index_path, replaced, takedowns)
        with open(index_path, "rb") as fh:
            member(zf, "indexes/index.cdxj", fh, zipfile.ZIP_DEFLATED)
        pages = _pages(storage, chosen, takedowns)
        header = {"format": PAGES_FORMAT, "id": "pages", "title": "Articles"}
        lines = [json.dumps(header)] + [json.dumps(p, ensure_ascii=False) for p in pages]
        member(zf, "pages/pages.jsonl", io.BytesIO(("\n".join(lines) + "\n").encode()),
               zipfile.ZIP_DEFLATED)  # fmt: skip
        package = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": title or f"LifeGate archive: {', '.join(chosen)}",
            "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": project_title(),
            "resources": resources,
        }
        if pages:
            package["mainPageURL"] = pages[0]["url"]
            package["mainPageDate"] = pages[0]["ts"]
        package_bytes = (json.dumps(package, indent=2) + "\n").encode()
        zf.writestr(zipfile.ZipInfo("datapackage.json", stamp), package_bytes, zipfile.ZIP_DEFLATED)
        package_hash = hashlib.sha256(package_bytes).hexdigest()
        digest = {"path": "datapackage.json", "hash": f"sha256:{package_hash}"}
        zf.writestr(
            zipfile.ZipInfo("datapackage-digest.json", stamp),
            json.dumps(digest, indent=2) + "\n",
            zipfile.ZIP_DEFLATED,
        )
    return WaczReport(out, tuple(chosen), len(names), records, len(pages), out.stat().st_size)
