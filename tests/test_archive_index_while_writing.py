"""A crawl's index made while its WARCs are written is the index a read-back of them makes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from archive import indexer
from archive.crawl_files import WarcOptions
from archive.index import crawl_index_key
from archive.session import CrawlSession
from archive.storage import FileStorage
from archive.warc import HttpExchange, RevisitTarget
from tests.builders import FakeClock, session_on

PAGE = b"<html><body><p>" + b"Ciao, mondo. " * 200 + b"</p></body></html>"

# Header spellings a server may send: plain ones index from the headers written, the others
# (bytes outside ASCII, blanks a parser strips) from the bytes read back.
RESPONSE_HEADERS = [
    [(b"Content-Type", b"text/html; charset=UTF-8")],
    [(b"Content-Type", b"text/h\xc3\xa9ml; charset=UTF-8")],
    [(b"Content-Type", b"text/h\xe9ml")],
    [(b"Content-Type ", b"text/plain")],
    [(b"Content-Type", b"  application/json")],
    [(b"Content-Type", b"text/css  "), (b"X-Empty", b"")],
    [(b"content-type", b"IMAGE/PNG"), (b"Content-Type", b"text/html")],
    [(b"Server", b"nginx")],
]


def _exchange(index: int, headers, status: int = 200, body: bytes = PAGE) -> HttpExchange:
    return HttpExchange(
        url=f"https://www.lifegate.it/pagina-{index}?q=a%20b&x=%C3%A9",
        method="GET",
        request_headers=[(b"User-Agent", b"lifegate-archive/test")],
        status=status,
        response_headers=headers,
        body=body + str(index).encode(),
        fetch_started=datetime(2026, 12, 1, 9, 0, index, tzinfo=UTC),
        reason="Not Found" if status == 404 else None,
    )


def _session(storage, gzip_level: int) -> CrawlSession:
    # Small files: the crawl spans several WARCs.
    warc = WarcOptions(
        enabled=True, prefix="TEST", max_size=2_000, gzip_level=gzip_level, fsync=False
    )
    return session_on(storage, FakeClock(), warc=warc, index_at_commit=True)


def _crawl(storage, gzip_level: int) -> str:
    session = _session(storage, gzip_level)
    session.open("lifegate")

    async def write() -> None:
        for index, headers in enumerate(RESPONSE_HEADERS):
            await session.write_exchange(_exchange(index, headers))
        await session.write_exchange(_exchange(50, RESPONSE_HEADERS[0], status=404, body=b""))
        await session.write_revisit(
            _exchange(0, RESPONSE_HEADERS[1]),
            profile="http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
            refers_to=RevisitTarget("<urn:uuid:1>", "https://www.lifegate.it/pagina-0", "x"),
            payload_digest="sha1:AAAA",
        )

    asyncio.run(write())
    session.write_metadata("https://www.lifegate.it/pagina-0", None, {"note": "flagged"})
    crawl_id = session.crawl_id
    assert crawl_id is not None
    assert session.close("finished") is True
    return crawl_id


@pytest.mark.parametrize("gzip_level", [3, 6])
def test_the_index_made_while_writing_is_the_index_read_back(tmp_path, monkeypatch, gzip_level):
    storage = FileStorage(str(tmp_path / "store"))

    def no_read_back(*args, **kwargs):
        raise AssertionError("the crawl's WARCs were read back")

    with monkeypatch.context() as patched:
        patched.setattr(indexer, "build_crawl_index", no_read_back)
        crawl_id = _crawl(storage, gzip_level)
    written = (storage.root / crawl_index_key(crawl_id)).read_text()
    assert len(list(storage.list(f"crawls/{crawl_id}/warc/"))) > 3

    lines, _ = indexer.build_crawl_index(storage, crawl_id)
    read_back = (storage.root / crawl_index_key(crawl_id)).read_text()
    assert written == read_back
    assert lines == len(RESPONSE_HEADERS) + 2  # the 404 and the revisit; no metadata, no requests
    assert r'"mime": "text/h\u00e9ml"' in written  # UTF-8 bytes, read as a reader reads them


def test_an_uncompressed_crawl_is_committed_and_indexed_by_reading_it_back(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    crawl_id = _crawl(storage, 0)
    warcs = [stored.key for stored in storage.list(f"crawls/{crawl_id}/warc/")]
    assert warcs and all(key.endswith(".warc") for key in warcs)
    assert (storage.root / crawl_index_key(crawl_id)).read_text().count("\n") == len(RESPONSE_HEADERS) + 2


def test_a_record_that_cannot_be_indexed_while_written_leaves_the_crawl_to_a_read_back(
    tmp_path, monkeypatch, caplog
):
    storage = FileStorage(str(tmp_path / "store"))
    calls = []
    real = indexer._Indexer.process_index_entry

    def failing_once(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("unexpected record")
        return real(self, *args)

    made = []
    real_init = indexer.CrawlIndexLines.__init__

    def recording_init(self, *args):
        real_init(self, *args)
        made.append(self)

    monkeypatch.setattr(indexer._Indexer, "process_index_entry", failing_once)
    monkeypatch.setattr(indexer.CrawlIndexLines, "__init__", recording_init)
    with caplog.at_level(logging.INFO, logger="archive.indexer"):
        crawl_id = _crawl(storage, 3)
    monkeypatch.undo()
    assert made and all(lines._lines is None for lines in made)  # dropped with the crawl
    committed = (storage.root / crawl_index_key(crawl_id)).read_text()
    indexer.build_crawl_index(storage, crawl_id)
    assert committed == (storage.root / crawl_index_key(crawl_id)).read_text()
    assert committed.count("\n") == len(RESPONSE_HEADERS) + 2
    assert "reading it back" in caplog.text and "unexpected record" in caplog.text


def test_header_blocks_that_read_back_unchanged_are_recognised():
    plain = b"WARC/1.1\r\nWARC-Type: response\r\n\r\nHTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n"
    assert indexer._reads_back_as_written(plain)
    for changed in (
        plain.replace(b"nginx", b"ngi\xc3\xa9nx"),  # bytes outside ASCII
        plain.replace(b"Server:", b"Server :"),  # a blank ending a name
        plain.replace(b": nginx", b":  nginx"),  # a blank starting a value
        plain.replace(b"nginx\r\n", b"nginx \r\n"),  # a blank ending a value
        plain.replace(b"Server", b" Server"),  # a folded line
        plain.replace(b"nginx", b"ng\tinx"),  # a control character
    ):
        assert not indexer._reads_back_as_written(changed), changed
