"""Content decoding off the reactor thread gives what Scrapy's own middleware gives."""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
import zlib
from typing import ClassVar

import pytest
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from crawler.decompression import OffloadedHttpCompressionMiddleware

PAGE = b"".join(
    b"<p>Paragraph %d of a long article about the climate and the sea.</p>\n" % i
    for i in range(4000)
)
SMALL_PAGE = b"<html><body><p>short</p></body></html>"
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}


def _incompressible(size: int) -> bytes:
    # Deterministic bytes that no coding shrinks, so the coded body stays above the threshold.
    out, seed = bytearray(), 1
    while len(out) < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2**64
        out += seed.to_bytes(8, "little")
    return bytes(out[:size])


LARGE_PAGE = b"<html><body><pre>" + _incompressible(60_000).hex().encode() + b"</pre></body></html>"


def _codings() -> dict[str, object]:
    codings: dict[str, object] = {
        "gzip": gzip.compress,
        "x-gzip": gzip.compress,
        "deflate": zlib.compress,
        "raw-deflate": lambda data: zlib.compress(data)[2:-4],
    }
    try:
        import brotli

        codings["br"] = brotli.compress
    except ImportError:
        pass
    try:
        from backports import zstd

        codings["zstd"] = zstd.compress
    except ImportError:
        pass
    return codings


CODINGS = _codings()


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    # Large bodies take the thread even where the tests run on one core.
    monkeypatch.setattr("crawler.decompression.usable_cores", lambda: 2)


def _middlewares(**settings):
    theirs = HttpCompressionMiddleware.from_crawler(get_crawler(settings_dict=settings))
    ours = OffloadedHttpCompressionMiddleware.from_crawler(get_crawler(settings_dict=settings))
    return theirs, ours


def _coded(coding: str, body: bytes, url: str = "https://site.test/page") -> Response:
    header = "deflate" if coding == "raw-deflate" else coding
    compress = CODINGS[coding]
    return Response(
        url,
        body=compress(body),  # type: ignore[operator]
        headers={**HTML_HEADERS, "Content-Encoding": header},
    )


def _run(middleware, request: Request, response: Response):
    result = middleware.process_response(request, response)
    if asyncio.iscoroutine(result):
        return asyncio.run(result)
    return result


def _outcome(middleware, request: Request, response: Response):
    result = _run(middleware, request, response)
    stats = {
        k: v for k, v in middleware.stats.get_stats().items() if k.startswith("httpcompression")
    }
    return type(result), result.body, result.headers.to_unicode_dict(), result.encoding, stats


@pytest.mark.parametrize("coding", sorted(CODINGS))
@pytest.mark.parametrize("page", [LARGE_PAGE, PAGE, SMALL_PAGE], ids=["large", "long", "small"])
def test_decoded_as_scrapy_decodes(coding, page):
    theirs, ours = _middlewares()
    request = Request("https://site.test/page")
    expected = _outcome(theirs, request, _coded(coding, page))
    got = _outcome(ours, request, _coded(coding, page))
    assert got == expected
    assert got[0] is HtmlResponse and got[1] == page
    assert "Content-Encoding" not in got[2]


class _Recording(OffloadedHttpCompressionMiddleware):
    THREAD_MIN_SIZE = 1024
    threads: ClassVar[list[str]] = []

    @staticmethod
    def _decode(body: bytes, encoding: bytes, max_size: int) -> bytes:
        _Recording.threads.append(threading.current_thread().name)
        return HttpCompressionMiddleware._decode(body, encoding, max_size)


def test_large_bodies_are_decoded_on_a_thread_small_ones_inline():
    middleware = _Recording.from_crawler(get_crawler())
    request = Request("https://site.test/page")
    _Recording.threads.clear()
    large = _coded("gzip", LARGE_PAGE)
    assert len(large.body) >= _Recording.THREAD_MIN_SIZE
    assert _run(middleware, request, large).body == LARGE_PAGE
    small = _coded("gzip", SMALL_PAGE)
    assert len(small.body) < _Recording.THREAD_MIN_SIZE
    assert _run(middleware, request, small).body == SMALL_PAGE
    main = threading.main_thread().name
    assert _Recording.threads[0] != main and _Recording.threads[1] == main
    middleware.close()


def test_two_codings_in_a_row_and_an_unknown_one_kept():
    theirs, ours = _middlewares()
    body = zlib.compress(gzip.compress(LARGE_PAGE))
    headers = {**HTML_HEADERS, "Content-Encoding": "gzip, deflate"}
    request = Request("https://site.test/page")
    expected = _outcome(theirs, request, Response(request.url, body=body, headers=headers))
    got = _outcome(ours, request, Response(request.url, body=body, headers=headers))
    assert got == expected and got[1] == LARGE_PAGE
    odd = {**HTML_HEADERS, "Content-Encoding": "foo, gzip"}
    coded = gzip.compress(LARGE_PAGE)
    expected = _outcome(theirs, request, Response(request.url, body=coded, headers=odd))
    got = _outcome(ours, request, Response(request.url, body=coded, headers=odd))
    assert got == expected and got[2]["Content-Encoding"] == "foo"


@pytest.mark.parametrize("page", [LARGE_PAGE, SMALL_PAGE], ids=["large", "small"])
def test_a_body_over_the_maximum_is_ignored_as_scrapy_ignores_it(page, caplog):
    limit = len(page) // 2
    theirs, ours = _middlewares(DOWNLOAD_MAXSIZE=limit)
    request = Request("https://site.test/page")
    messages = []
    for middleware in (theirs, ours):
        caplog.clear()
        with caplog.at_level(logging.WARNING), pytest.raises(IgnoreRequest) as raised:
            _run(middleware, request, _coded("gzip", page))
        messages.append((str(raised.value), [r.getMessage() for r in caplog.records]))
    assert messages[0] == messages[1]
    assert "exceeded DOWNLOAD_MAXSIZE" in messages[1][0]
    # A per-request maximum wins over the setting, on the thread too.
    allowed = Request("https://site.test/page", meta={"download_maxsize": 0})
    assert _run(ours, allowed, _coded("gzip", page)).body == page


def test_the_warning_size_is_logged_as_scrapy_logs_it(caplog):
    theirs, ours = _middlewares(DOWNLOAD_WARNSIZE=len(LARGE_PAGE) - 1)
    request = Request("https://site.test/page")
    logged = []
    for middleware in (theirs, ours):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            _run(middleware, request, _coded("gzip", LARGE_PAGE))
        logged.append([r.getMessage() for r in caplog.records])
    assert logged[0] == logged[1] and "download warning size" in logged[1][0]


def test_a_corrupt_body_fails_as_it_fails_in_scrapy():
    theirs, ours = _middlewares()
    request = Request("https://site.test/page")
    body = b"\x1f\x8b\x08\x00" + _incompressible(40_000)
    headers = {**HTML_HEADERS, "Content-Encoding": "gzip"}
    errors = []
    for middleware in (theirs, ours):
        with pytest.raises(Exception) as raised:
            _run(middleware, request, Response(request.url, body=body, headers=headers))
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0] == errors[1]


def test_head_requests_and_plain_bodies_pass_through():
    _, ours = _middlewares()
    coded = _coded("gzip", LARGE_PAGE)
    assert _run(ours, Request(coded.url, method="HEAD"), coded) is coded
    plain = Response("https://site.test/page", body=LARGE_PAGE, headers=HTML_HEADERS)
    assert _run(ours, Request(plain.url), plain) is plain


def test_without_scrapys_decoding_hook_everything_is_decoded_inline(monkeypatch):
    monkeypatch.setattr(OffloadedHttpCompressionMiddleware, "OFFLOAD", False)
    _, ours = _middlewares()
    result = ours.process_response(Request("https://site.test/page"), _coded("gzip", LARGE_PAGE))
    assert asyncio.iscoroutine(result)
    assert asyncio.run(result).body == LARGE_PAGE
    assert ours._executor is None


def test_a_process_held_to_one_core_decodes_inline(monkeypatch):
    monkeypatch.setattr("crawler.decompression.usable_cores", lambda: 1)
    _, ours = _middlewares()
    assert (
        _run(ours, Request("https://site.test/page"), _coded("gzip", LARGE_PAGE)).body == LARGE_PAGE
    )
    assert ours._executor is None


def test_it_takes_scrapys_slot_in_the_project_settings():
    from crawler import settings

    middlewares = settings.DOWNLOADER_MIDDLEWARES
    assert (
        middlewares["scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"]
        is None
    )
    assert middlewares["crawler.decompression.OffloadedHttpCompressionMiddleware"] == 590


def _damaged_gzip_bodies() -> list[tuple[str, bytes]]:
    whole = gzip.compress(PAGE, 1)
    bodies = [("whole", whole), ("empty member", gzip.compress(b""))]
    bodies += [(f"cut at {cut}", whole[:cut]) for cut in (0, 2, 3, 10, 11, 500, len(whole) // 2, len(whole) - 8, len(whole) - 1)]
    for name, index in (("crc", -6), ("length", -2), ("data", len(whole) // 2)):
        damaged = bytearray(whole)
        damaged[index] ^= 0x55
        bodies.append((f"{name} damaged", bytes(damaged)))
    bodies += [
        ("two members", whole + gzip.compress(SMALL_PAGE)),
        ("zero padding", whole + b"\0" * 16),
        ("trailing garbage", whole + b"garbage"),
        ("a second header cut short", whole + b"\x1f\x8b\x08"),
        ("not gzip", SMALL_PAGE),
    ]
    return bodies


def _decoding_outcome(decode, body: bytes, max_size: int):
    try:
        return "decoded", decode(body, b"gzip", max_size)
    except Exception as exc:  # noqa: BLE001 (the error itself is what is compared)
        return type(exc), str(exc)


@pytest.mark.parametrize("name,body", _damaged_gzip_bodies(), ids=lambda value: value if isinstance(value, str) else "")
@pytest.mark.parametrize("max_size", [0, 100_000, 10_000_000])
def test_gzip_bodies_whole_or_damaged_decode_as_scrapy_decodes_them(name, body, max_size):
    ours = _decoding_outcome(OffloadedHttpCompressionMiddleware._decode, body, max_size)
    assert ours == _decoding_outcome(HttpCompressionMiddleware._decode, body, max_size)
