"""Verification and recovery: truncation, corruption and kills are found or repaired, never missed."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.crawl import CrawlManifest, ManifestEntry, manifest_key, read_manifest, warc_key
from archive.recovery import recover_open_file, recover_store
from archive.storage import FileStorage
from archive.verify import check_warc, verify_store
from archive.warc import RollingWarcWriter, WarcFileNamer
from tests.builders import article_exchange

SAMPLES = Path(__file__).parent / "data" / "warc-samples"
CRAWL = "20261128T090000Z-lifegate"


def committed_store(tmp_path: Path, exchanges: int = 3) -> FileStorage:
    storage = FileStorage(str(tmp_path / "store"))
    directory = storage.staging_path(warc_key(CRAWL, "x")).parent
    writer = RollingWarcWriter(directory, namer=WarcFileNamer("T", hostname="h"), warcinfo_fields={"a": "b"})
    for n in range(exchanges):
        writer.write_exchange(article_exchange(n))
    writer.close()
    entries = []
    for path in writer.closed_files:
        stored = storage.put_file(warc_key(CRAWL, path.name), path)
        entries.append(ManifestEntry.from_stored(stored, 1 + 2 * exchanges))
    CrawlManifest(CRAWL, "lifegate", "s", "f", "finished", entries).write(storage)
    return storage


def only_warc(storage: FileStorage) -> Path:
    [path] = list((storage.root / "crawls" / CRAWL / "warc").glob("*.warc.gz"))
    return path


def test_a_committed_crawl_verifies(tmp_path):
    report = verify_store(committed_store(tmp_path))
    assert report.ok, report.problems
    assert (report.crawls, report.warc_files, report.records) == (1, 1, 7)


def test_truncation_is_caught_although_warcio_check_passes_it(tmp_path):
    storage = committed_store(tmp_path)
    path = only_warc(storage)
    path.write_bytes(path.read_bytes()[:-200])
    warcio = shutil.which("warcio", path=str(Path(sys.executable).parent)) or "warcio"
    assert subprocess.run([warcio, "check", str(path)], capture_output=True, check=False).returncode == 0
    problems = [str(p) for p in verify_store(storage).problems]
    assert any("truncated" in p for p in problems), problems
    assert any("size" in p for p in problems)


def test_flipped_byte_fails_digest_and_checksum(tmp_path):
    storage = committed_store(tmp_path)
    path = only_warc(storage)
    members = path.read_bytes()
    # Rewrite the last response with one payload byte changed, keeping gzip framing valid.
    raw = gzip.decompress(members).replace(b"articolo 2", b"articolo X", 1)
    path.write_bytes(gzip.compress(raw))
    problems = [str(p) for p in verify_store(storage).problems]
    assert any("sha256 does not match" in p for p in problems) or any("size" in p for p in problems)


def test_digest_failure_is_reported(tmp_path):
    storage = FileStorage(str(SAMPLES / "warcio"))
    _records, problems = check_warc(storage, "example-trunc.warc", (SAMPLES / "warcio" / "example-trunc.warc").stat().st_size)
    assert problems and any("digest" in p for p in problems)


@pytest.mark.parametrize(
    "name,records",
    [
        ("warcio/example.warc.gz", 6),
        ("warcio/example.warc", 6),
        ("warcio/example-iana.org-chunked.warc", 3),
        ("warcio/example-wget-bad-target-uri.warc.gz", 6),
        ("warcio/post-test.warc.gz", 6),
        ("warcio.js/redirect.warc", 2),
        ("gowarc/test.warc.gz", 3),
        ("jwarc/gzip_extra_sl.warc.gz", 1),
    ],
)
def test_warcs_from_other_tools_check_clean(name, records):
    storage = FileStorage(str(SAMPLES))
    count, problems = check_warc(storage, name, (SAMPLES / name).stat().st_size, warcinfo_first=False)
    assert (count, problems) == (records, [])


def test_one_member_gzip_file_is_flagged():
    storage = FileStorage(str(SAMPLES))
    _count, problems = check_warc(storage, "gowarc/skip-non-open.warc.gz", (SAMPLES / "gowarc/skip-non-open.warc.gz").stat().st_size)
    assert problems


def test_missing_manifest_and_unlisted_objects_are_problems(tmp_path):
    storage = committed_store(tmp_path)
    storage.put_bytes(f"crawls/{CRAWL}/stray.txt", b"x")
    storage.put_bytes("crawls/20261128T100000Z-lifegate/warc/x.warc.gz", gzip.compress(b"x"))
    problems = [str(p) for p in verify_store(storage).problems]
    assert any("stray.txt: not listed in the manifest" in p for p in problems)
    assert any("20261128T100000Z-lifegate/: no manifest" in p for p in problems)


def test_killed_writer_leaves_a_recoverable_open_file(tmp_path):
    writer = RollingWarcWriter(tmp_path, namer=WarcFileNamer("T", hostname="h"), warcinfo_fields={"a": "b"})
    for n in range(4):
        writer.write_exchange(article_exchange(n))
    # What a kill leaves: every flushed record, then a gzip member cut short.
    data = writer.current_path.read_bytes()
    writer.close()
    open_path = tmp_path / "killed" / "T-20261128090000000-00000-h.warc.gz.open"
    open_path.parent.mkdir()
    open_path.write_bytes(data + gzip.compress(b"WARC/1.1\r\npartial")[:25])
    recovered = recover_open_file(open_path)
    assert recovered.records == 9 and recovered.dropped_bytes == 25
    assert recovered.path.read_bytes() == data
    assert not open_path.exists()


def test_recover_store_commits_an_interrupted_crawl(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    directory = storage.staging_path(warc_key(CRAWL, "x")).parent
    writer = RollingWarcWriter(tmp_path, namer=WarcFileNamer("T", hostname="h"), warcinfo_fields={"a": "b"})
    writer.write_exchange(article_exchange(1))
    (directory / (writer.current_path.name)).write_bytes(writer.current_path.read_bytes())
    writer.close()
    text = storage.staging_path(f"crawls/{CRAWL}/text/articles.jsonl")
    Path(str(text) + ".open").write_bytes(b'{"id": "1"}\n{"id": "torn')
    assert verify_store(storage).problems  # unfinished and no manifest
    assert recover_store(storage) == [CRAWL]
    manifest = read_manifest(storage, CRAWL)
    assert manifest.status == "recovered"
    assert sorted(e.kind for e in manifest.objects) == ["text", "warc"]
    assert [e.records for e in manifest.objects if e.kind == "warc"] == [3]
    assert text.read_bytes() == b'{"id": "1"}\n'
    report = verify_store(storage)
    assert report.ok, report.problems
    assert storage.exists(manifest_key(CRAWL))
