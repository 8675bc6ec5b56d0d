"""gzip members written through ISA-L read back with any gzip reader; the fast gunzip only answers
for bodies every reader decodes alike."""

from __future__ import annotations

import gzip
import zlib

import pytest

from archive import deflate

PAGE = b"".join(
    b"<p>Paragraph %d about the sea, the forests and the climate.</p>\n" % i for i in range(3000)
)


def _one_member(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    content = decompressor.decompress(data)
    assert decompressor.eof and not decompressor.unused_data
    return content


@pytest.mark.parametrize("level", range(1, 10))
def test_every_level_writes_one_member_any_reader_reads(level):
    member = deflate.gzip_member(PAGE, level)
    assert _one_member(member) == PAGE
    assert gzip.decompress(member) == PAGE
    assert len(member) < len(PAGE) / 5


def test_isal_levels_compress_already_gzipped_bodies_without_growing_them():
    body = gzip.compress(PAGE)
    member = deflate.gzip_member(b"HTTP/1.1 200 OK\r\n\r\n" + body, 3)
    assert _one_member(member).endswith(body)
    assert len(member) < len(body) * 1.01 + 64


def test_without_isal_zlib_does_every_level(monkeypatch):
    monkeypatch.setattr(deflate, "isal_zlib", None)
    monkeypatch.setattr(deflate, "ISAL_LEVELS", range(0))
    for level in (1, 3, 6):
        member = deflate.gzip_member(PAGE, level)
        assert member == _zlib_member(PAGE, level)
    assert deflate.gunzip_whole(gzip.compress(PAGE)) == PAGE


def _zlib_member(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def test_a_whole_member_is_decoded_within_its_limit():
    body = gzip.compress(PAGE)
    assert deflate.gunzip_whole(body) == PAGE
    assert deflate.gunzip_whole(body, len(PAGE)) == PAGE
    assert deflate.gunzip_whole(gzip.compress(b"")) == b""


def _flipped(data: bytes, index: int) -> bytes:
    damaged = bytearray(data)
    damaged[index] ^= 0xFF
    return bytes(damaged)


WHOLE = gzip.compress(PAGE)


@pytest.mark.parametrize(
    "body,max_size",
    [
        (WHOLE, len(PAGE) - 1),  # over the limit
        (WHOLE[:-1], 0),  # truncated in the trailer
        (WHOLE[: len(WHOLE) // 2], 0),  # truncated in the data
        (_flipped(WHOLE, -6), 0),  # CRC
        (_flipped(WHOLE, -2), 0),  # length
        (WHOLE + WHOLE, 0),  # two members
        (WHOLE + b"\0" * 8, 0),  # zero padding
        (WHOLE + b"<html>", 0),  # bytes after the member
        (b"", 0),
        (b"<html>not gzip</html>", 0),
        (zlib.compress(PAGE), 0),
    ],
)
def test_anything_but_one_intact_member_is_left_to_the_caller(body, max_size):
    assert deflate.gunzip_whole(body, max_size) is None
