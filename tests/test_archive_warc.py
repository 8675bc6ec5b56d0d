"""WARC records and the rolling writer: byte-exact output, per-record gzip, rollover, tool checks."""

from __future__ import annotations

import gzip
import io
import itertools
import re
import shutil
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.gzip_members import scan_members
from archive.warc import (
    HttpExchange,
    RollingWarcWriter,
    WarcFileNamer,
    WarcRecordFactory,
)

GOLDEN = Path(__file__).parent / "data" / "golden" / "exchange.warc"
FIXED_TIME = datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=UTC)


def fixed_factory() -> WarcRecordFactory:
    counter = itertools.count()
    return WarcRecordFactory(
        make_record_id=lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(counter):012d}>",
        clock=lambda: FIXED_TIME,
    )


# A server's gzip body, fixed: gzip.compress writes the header's OS byte as 3 (Unix) on Python 3.11
# and 255 (unknown) on 3.13, which would change the golden file's digests with the interpreter.
_gz = gzip.compress(b"<html><body><p>Ciao</p></body></html>", mtime=0)
GZIP_BODY = _gz[:9] + b"\x03" + _gz[10:]


def sample_exchange(**changes) -> HttpExchange:
    values = {
        "url": "http://127.0.0.1:8080/articolo?x=1&y=2#commenti",
        "method": "GET",
        "request_headers": [(b"User-Agent", b"lifegate-archive/test"), (b"Accept-Encoding", b"gzip, deflate")],
        "status": 200,
        "response_headers": [
            (b"Content-Type", b"text/html; charset=UTF-8"),
            (b"Content-Encoding", b"gzip"),
            (b"Set-Cookie", b"a=1; Path=/"),
            (b"Set-Cookie", b"b=2; Path=/"),
            (b"X-Latin", b"caf\xe9"),
        ],
        "body": GZIP_BODY,
        "fetch_started": FIXED_TIME,
        "ip_address": "127.0.0.1",
    }
    values.update(changes)
    return HttpExchange(**values)


def write_file(tmp_path: Path, exchanges, gzip_level=6, max_size=1_000_000_000) -> list[Path]:
    writer = RollingWarcWriter(
        tmp_path,
        namer=WarcFileNamer("TEST", hostname="box", clock=lambda: FIXED_TIME),
        warcinfo_fields={"software": "lifegate-archive/test"},
        factory=fixed_factory(),
        gzip_level=gzip_level,
        max_size=max_size,
    )
    for exchange in exchanges:
        writer.write_exchange(exchange)
    writer.close()
    return writer.closed_files


def test_uncompressed_output_matches_golden_file_byte_for_byte(tmp_path):
    [path] = write_file(tmp_path, [sample_exchange()], gzip_level=0)
    if not GOLDEN.exists():  # pragma: no cover - regenerate with: pytest --regen (delete the file)
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, GOLDEN)
    assert path.read_bytes() == GOLDEN.read_bytes()


def test_one_gzip_member_per_record_and_body_kept_content_coded(tmp_path):
    exchange = sample_exchange()
    [path] = write_file(tmp_path, [exchange, exchange])
    data = path.read_bytes()
    scan = scan_members(io.BytesIO(data), len(data))
    assert scan.complete and scan.members == 5  # warcinfo + 2 x (response, request)
    with open(path, "rb") as fh:
        records = [(r.rec_type, r.http_headers, r.content_stream().read() if r.rec_type == "response" else None,
                    r.raw_stream.read()) for r in ArchiveIterator(fh)]
    assert [r[0] for r in records] == ["warcinfo", "response", "request", "response", "request"]
    # The raw block keeps the gzip body exactly as the server sent it.
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                assert record.raw_stream.read() == exchange.body


def test_headers_are_kept_byte_for_byte_with_repeats_and_latin1(tmp_path):
    [path] = write_file(tmp_path, [sample_exchange()], gzip_level=0)
    data = path.read_bytes()
    assert b"X-Latin: caf\xe9\r\n" in data
    assert b"Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\n" in data
    assert b"HTTP/1.1 200 OK\r\n" in data


def test_request_record_has_host_first_no_fragment_and_links_to_response(tmp_path):
    [path] = write_file(tmp_path, [sample_exchange()])
    with open(path, "rb") as fh:
        records = [(r.rec_headers, r.http_headers) for r in ArchiveIterator(fh)]
    (info, _), (resp, _), (req, req_http) = records
    assert req_http.protocol == "GET" and req_http.statusline.startswith("/articolo?x=1&y=2 HTTP/1.1")
    assert req_http.headers[0] == ("Host", "127.0.0.1:8080")
    assert req.get_header("WARC-Concurrent-To") == resp.get_header("WARC-Record-ID")
    assert resp.get_header("WARC-Target-URI") == "http://127.0.0.1:8080/articolo?x=1&y=2"
    assert resp.get_header("WARC-Date") == req.get_header("WARC-Date") == "2026-11-28T09:00:00.123456Z"
    assert resp.get_header("WARC-Warcinfo-ID") == info.get_header("WARC-Record-ID")
    assert resp.get_header("WARC-IP-Address") == "127.0.0.1"


def test_truncated_body_is_marked(tmp_path):
    [path] = write_file(tmp_path, [sample_exchange(truncated="disconnect", body=b"<html>cut")])
    with open(path, "rb") as fh:
        response = next(r for r in ArchiveIterator(fh) if r.rec_type == "response")
    assert response.rec_headers.get_header("WARC-Truncated") == "disconnect"


def test_rollover_starts_each_file_with_warcinfo_and_names_follow_annex_c(tmp_path):
    paths = write_file(tmp_path, [sample_exchange()] * 5, max_size=1)
    assert len(paths) == 5
    assert not list(tmp_path.glob("*.open"))
    for serial, path in enumerate(sorted(paths)):
        assert re.fullmatch(rf"TEST-\d{{17}}-{serial:05d}-box\.warc\.gz", path.name)
        with open(path, "rb") as fh:
            first = next(iter(ArchiveIterator(fh)))
        assert first.rec_type == "warcinfo"
        assert first.rec_headers.get_header("WARC-Filename") == path.name


def test_open_file_is_flushed_after_each_exchange(tmp_path):
    writer = RollingWarcWriter(
        tmp_path, namer=WarcFileNamer("TEST", hostname="box"), warcinfo_fields={"software": "t"}
    )
    locations = writer.write_exchange(sample_exchange())
    open_path = writer.current_path
    assert open_path is not None and open_path.name.endswith(".warc.gz.open")
    data = open_path.read_bytes()  # another reader sees every byte already
    assert len(data) == locations[-1].offset + locations[-1].length
    # Each location is one complete gzip member holding the record it names.
    response = locations[0]
    member = data[response.offset : response.offset + response.length]
    assert response.record_id.encode() in zlib.decompress(member, zlib.MAX_WBITS | 16)
    writer.close()


@pytest.mark.parametrize("tool", ["warcio", "cdxj-indexer"])
def test_files_pass_warcio_check_and_cdxj_indexer(tmp_path, tool):
    [path] = write_file(tmp_path, [sample_exchange(), sample_exchange(status=404, body=b"")])
    bindir = Path(sys.executable).parent
    exe = shutil.which(tool, path=str(bindir)) or shutil.which(tool)
    assert exe, f"{tool} is a test dependency"
    if tool == "warcio":
        result = subprocess.run([exe, "check", "-v", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("digest pass") == 5
    else:
        result = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert len(lines) == 2  # one line per response record
        assert sorted(re.search(r'"status": "(\d+)"', line).group(1) for line in lines) == ["200", "404"]
