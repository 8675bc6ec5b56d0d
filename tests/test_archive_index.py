"""CDXJ indexes: what they hold, that they match cdxj-indexer, idempotent rebuilds, and lookups by
binary search that stay at a handful of reads on a million lines."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.index import (
    INDEX_KEY,
    CaptureEntry,
    CdxjIndex,
    crawl_index_key,
    pad_timestamp,
    surt_key,
)
from archive.indexer import build_indexes
from archive.storage import FileStorage
from cli import main
from tests.builders import T0, commit_crawl, exchange, revisit_of, store_copy


def index_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_crawl_index_matches_cdxj_indexer_and_leaves_out_requests(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)
    report = build_indexes(storage)
    crawl_id = it_crawl.crawl_dir.name
    assert report.indexed == [crawl_id] and report.merged_rebuilt
    lines = index_lines(storage.root / crawl_index_key(crawl_id))
    assert lines == sorted(lines) and len(lines) == report.records > 100

    [warc] = it_crawl.warc_files
    key = f"crawls/{crawl_id}/warc/{warc.name}"
    reference = subprocess.run(
        [sys.executable, "-c", "from cdxj_indexer.main import main; main()", "-s", str(warc)],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    # Same lines as cdxj-indexer (pywb's indexer), except that filename is the store key.
    assert [line.replace(f'"filename": "{key}"', f'"filename": "{warc.name}"') for line in lines] == reference

    types = {}
    with open(warc, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            types[iterator.get_record_offset()] = record.rec_type
    entries = [CaptureEntry.from_line(line) for line in lines]
    # Identical payloads fetched twice in one crawl (robots.txt) are revisits; requests never.
    assert {types[e.offset] for e in entries} <= {"response", "revisit"}
    assert "response" in {types[e.offset] for e in entries}
    assert "request" in types.values()
    for entry in entries[:20]:
        assert entry.filename == key and len(entry.timestamp) == 14 and entry.digest.startswith("sha1:")
        # One byte-range read gives back the record the line names.
        data = storage.read_range(entry.filename, entry.offset, entry.length)
        record = next(iter(ArchiveIterator(io.BytesIO(data))))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry.url
        assert record.http_headers.get_statuscode() == str(entry.status)


def test_reruns_rebuild_only_what_changed(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)
    first = build_indexes(storage)
    merged = storage.root / INDEX_KEY
    crawl_index = storage.root / crawl_index_key(it_crawl.crawl_dir.name)
    stamps = (merged.stat().st_mtime_ns, crawl_index.stat().st_mtime_ns)

    again = build_indexes(storage)
    assert again.indexed == [] and again.unchanged == first.indexed and not again.merged_rebuilt
    assert (merged.stat().st_mtime_ns, crawl_index.stat().st_mtime_ns) == stamps

    second = "20260101T000000Z-lifegate"
    commit_crawl(storage, second, lambda w: w.write_exchange(exchange("http://example.org/a", b"<p>a</p>", T0)))
    running = storage.root / "crawls" / "20260102T000000Z-lifegate" / "warc"
    running.mkdir(parents=True)
    (running / "T-1.warc.gz.open").write_bytes(b"")  # a crawl still running: no manifest yet
    third = build_indexes(storage, progress=lambda line: None)
    assert third.indexed == [second] and third.unchanged == first.indexed
    assert third.uncommitted == ["20260102T000000Z-lifegate"] and third.merged_rebuilt
    assert crawl_index.stat().st_mtime_ns == stamps[1]
    lines = index_lines(merged)
    assert lines == sorted(lines) and len(lines) == first.records + 1 == third.merged_lines
    with CdxjIndex(merged) as index:
        assert index.lookup("http://example.org/a")[0].filename.startswith(f"crawls/{second}/")

    merged.unlink()  # a lost merged index is rebuilt from the crawl indexes, which are kept
    fourth = build_indexes(storage)
    assert fourth.merged_rebuilt and not fourth.indexed and index_lines(merged) == lines


def test_revisits_are_indexed_as_warc_revisit(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    url = "http://example.org/page"

    def write(writer):
        [first, _] = writer.write_exchange(exchange(url, b"<p>same</p>", T0))
        return revisit_of(writer, first, exchange(url, b"<p>same</p>", T0 + timedelta(days=1)), T0)

    commit_crawl(storage, "20250301T120000Z-lifegate", write)
    build_indexes(storage)
    with CdxjIndex(storage.root / INDEX_KEY) as index:
        entries = index.lookup(url)
    assert [(e.timestamp, e.mime) for e in entries] == [
        ("20250301120000", "text/html"),
        ("20250302120000", "warc/revisit"),
    ]
    assert entries[0].digest == entries[1].digest


SMALL = [
    ("com,example)/", "20250101000000"),
    ("com,example)/a", "20240101000000"),
    ("com,example)/a", "20250101000000"),
    ("com,example)/a", "20250601000000"),
    ("com,example)/a?x=1", "20250101000000"),
    ("com,example)/ab", "20250101000000"),
    ("com,example)/news/1", "20250101000000"),
    ("com,example)/news/2", "20250101000000"),
    ("com,example)/newsletter", "20250101000000"),
    ("org,other)/", "20250101000000"),
]


def small_index(block_size: int = 64) -> CdxjIndex:
    lines = []
    for key, ts in SMALL:
        path = key.split(")", 1)[1]
        host = ".".join(reversed(key.split(")")[0].split(",")))
        data = {"url": f"http://{host}{path}", "mime": "text/html", "status": "200", "digest": "sha1:X",
                "length": "10", "offset": "0", "filename": "crawls/c/warc/x.warc.gz"}
        lines.append(f"{key} {ts} {json.dumps(data)}\n")
    lines.insert(3, "not a cdxj line\n")  # malformed lines are skipped, not fatal
    return CdxjIndex(io.BytesIO("".join(sorted(lines)).encode()), block_size=block_size)


def test_lookups_nearest_prefix_and_host_listings():
    index = small_index()
    assert [e.timestamp for e in index.lookup("http://www.example.com/a")] == [
        "20240101000000", "20250101000000", "20250601000000",
    ]
    assert index.lookup("http://example.com/a?x=1")[0].url == "http://example.com/a?x=1"
    assert index.lookup("http://example.com/zzz") == [] and index.lookup("http://aaa.com/") == []
    assert index.lookup("http://zzz.org/") == []
    assert index.nearest("http://example.com/a", "20250301000000").timestamp == "20250101000000"
    assert index.nearest("http://example.com/a", "20300101000000").timestamp == "20250601000000"
    assert index.nearest("http://example.com/a", pad_timestamp("2024")).timestamp == "20240101000000"
    assert index.nearest("http://example.com/none", "20250101000000") is None
    assert [e.url for e in index.prefix("http://example.com/news/")] == [
        "http://example.com/news/1", "http://example.com/news/2",
    ]
    assert len(index.prefix("http://example.com/news")) == 3  # /newsletter too
    assert len(index.host("example.com")) == 9 and len(index.host("example.com", limit=2)) == 2
    entry = index.lookup("http://example.com/ab")[0]
    assert index.entry_at(entry.position) == entry
    assert index.entry_at(entry.position + 1) is None and index.entry_at(-1) is None
    assert index.entry_at(index.size) is None
    with pytest.raises(ValueError):
        index.lookup("file:///etc/passwd")


class SyntheticIndex(io.RawIOBase):
    """A sorted CDXJ file of ``count`` fixed-width lines, computed on demand (nothing on disk)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.width = len(self.line(0))
        self.size = count * self.width
        self.pos = 0

    @staticmethod
    def line(i: int) -> bytes:
        data = {"url": f"http://example.com/p{i:07d}", "mime": "text/html", "status": "200",
                "digest": "sha1:AAAA", "length": "1000", "offset": f"{i * 1000:010d}",
                "filename": "crawls/c/warc/x.warc.gz"}  # fmt: skip
        return f"com,example)/p{i:07d} 2025010100{i % 10000:04d} {json.dumps(data)}\n".encode()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = offset if whence == io.SEEK_SET else self.size + offset if whence == io.SEEK_END else self.pos + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.size - self.pos)
        if want <= 0:
            return 0
        first = self.pos // self.width
        chunk = b"".join(self.line(i) for i in range(first, min(self.count, first + want // self.width + 2)))
        start = self.pos - first * self.width
        data = chunk[start : start + want]
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def test_a_million_line_index_answers_each_lookup_in_a_few_reads():
    source = SyntheticIndex(1_000_000)
    index = CdxjIndex(source)
    bound = 2 * math.ceil(math.log2(index.size / index.block_size)) + 4
    for i in (0, 1, 4242, 500_000, 777_777, 999_999):
        before = index.reads
        [entry] = index.lookup(f"http://example.com/p{i:07d}")
        assert entry.offset == i * 1000 and entry.url.endswith(f"p{i:07d}")
        assert index.reads - before <= bound, (i, index.reads - before, bound)
    before = index.reads
    assert index.lookup("http://example.com/p9999999") == []
    assert index.lookup("http://example.com/p0500000x") == []
    assert index.reads - before <= 2 * bound
    assert bound < 40  # ~200 MB of index lines, 4 KB blocks


def test_surt_keys_and_timestamps():
    assert surt_key("https://www.Example.com/A?b=2&a=1#top") == "com,example)/a?a=1&b=2"
    assert surt_key("http://127.0.0.1:8080/x") == "1,0,0,127:8080)/x"
    for bad in ("", "javascript:alert(1)", "s3://bucket/key", "file:///etc/passwd", "http://"):
        with pytest.raises(ValueError):
            surt_key(bad)
    assert pad_timestamp("2025") == "20250101000000"
    assert pad_timestamp("202506") == "20250601000000"
    for bad in ("202", "2025133", "20251301000000", "2025x", "202501010000001", "２０２５"):  # noqa: RUF001 (str.isdigit says yes)
        with pytest.raises(ValueError):
            pad_timestamp(bad)


def test_index_command(it_crawl, tmp_path, capsys):
    storage = store_copy(it_crawl, tmp_path)
    assert main(["index", "--store", str(storage.root)]) == 0
    out, err = capsys.readouterr()
    assert "1 crawls indexed" in out and "records indexed" in err
    assert main(["index", "--store", str(storage.root)]) == 0
    assert "0 crawls indexed, 1 unchanged" in capsys.readouterr().out
    assert main(["index", "--store", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lifegate-archive index: no committed crawls") and "Traceback" not in err
