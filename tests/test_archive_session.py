"""The crawl session driven directly, without Scrapy: the commit protocol, recovery of a crash
between its steps, the lock's heartbeat on a fake clock, and writes refused once it is closed."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import pytest

from archive.crawl import (
    events_key,
    ledger_key,
    manifest_key,
    read_manifest,
    report_key,
    text_key,
    warc_key,
)
from archive.index import INDEX_KEY
from archive.lock import LOCK_KEY, LockHeld, StoreLock
from archive.session import LINE_WAIT, CrawlSession, SessionClosed
from archive.storage import FileStorage
from archive.warc import OPEN_SUFFIX, HttpExchange
from tests.builders import FakeClock, session_on

URL = "http://127.0.0.1:8080/articolo"


class Crash(BaseException):
    """The process dying: nothing in the session catches it."""


class CrashAfterManifestTempWrite(FileStorage):
    """A store whose process dies once the manifest's temporary file is written, before the
    rename that would publish it."""

    def put_bytes(self, key: str, data: bytes):
        if key.endswith("/manifest.json"):
            target = self._path(key)
            target.with_name(target.name + ".part").write_bytes(data)
            raise Crash(key)
        return super().put_bytes(key, data)


def exchange(
    url: str = URL, body: bytes = b"<html><body><p>Ciao</p></body></html>"
) -> HttpExchange:
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=[(b"User-Agent", b"lifegate-archive/test")],
        status=200,
        response_headers=[(b"Content-Type", b"text/html; charset=UTF-8")],
        body=body,
        fetch_started=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    )


def write_one_page(session: CrawlSession) -> None:
    async def write() -> None:
        locations = await session.write_exchange(exchange())
        assert [location.record_type for location in locations] == ["response", "request"]
        await session.write_text({"url": URL, "text": "Ciao"})

    asyncio.run(write())


def test_commit_writes_the_report_then_the_manifest_and_releases_the_store(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    clock = FakeClock()
    session = session_on(storage, clock, index_at_commit=True)
    session.open("lifegate")
    crawl_id = session.crawl_id
    assert crawl_id == "20261201T090000Z-lifegate"
    assert storage.exists(LOCK_KEY)
    write_one_page(session)
    session.seen(URL, "sitemap", "2026-11-30")
    session.journal({"type": "capture", "url": URL, "kind": "response", "http_status": 200})
    session.log_event("timeout", "http://127.0.0.1:8080/lenta", "no answer within 5 s")
    clock.advance(minutes=3)

    assert session.close("finished") is True

    manifest = read_manifest(storage, crawl_id)
    assert manifest.status == "finished"
    assert manifest.spider == "lifegate"
    assert manifest.finished == clock.now.isoformat()
    objects = {entry.key: entry for entry in manifest.objects}
    warcs = [key for key in objects if key.startswith(warc_key(crawl_id, ""))]
    assert len(warcs) == 1 and objects[warcs[0]].records == 3  # warcinfo, response, request
    for key in (
        text_key(crawl_id),
        events_key(crawl_id),
        ledger_key(crawl_id),
        report_key(crawl_id),
    ):
        assert key in objects and storage.exists(key), key
    with storage.open(report_key(crawl_id)) as fh:
        report = json.load(fh)
    assert report["crawl_id"] == crawl_id and report["finish_reason"] == "finished"
    assert session.stats.get_stats()["report"] == report["summary"]
    assert manifest.stats["archive/events/timeout"] == 1
    assert not list(storage.unfinished())
    assert not storage.exists(LOCK_KEY)
    assert storage.exists(INDEX_KEY)
    # The journal went into the ledger with the commit: the next session knows the article.
    clock.advance(minutes=1)
    following = session_on(storage, clock)
    following.open("lifegate")
    article = following.ledger.get(URL) if following.ledger else None
    assert article is not None and article.sitemap_lastmod == "2026-11-30"
    assert following.stats.get_stats().get("archive/recovered_crawls") is None
    following.close("finished")


def test_a_crawl_stopped_after_writing_its_warc_is_recovered_by_the_next_session(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    clock = FakeClock()
    crashed = session_on(storage, clock)
    crashed.open("lifegate")
    write_one_page(crashed)
    crashed.abort()  # the files stay as they are, .open, and no manifest
    crawl_id = crashed.crawl_id
    assert not storage.exists(manifest_key(crawl_id))
    assert any(path.name.endswith(".warc.gz" + OPEN_SUFFIX) for path in storage.unfinished())

    clock.advance(minutes=1)
    following = session_on(storage, clock)
    following.open("lifegate")

    assert following.stats.get_stats()["archive/recovered_crawls"] == 1
    manifest = read_manifest(storage, crawl_id)
    assert manifest.status == "recovered"
    records = {entry.key: entry.records for entry in manifest.objects if entry.kind == "warc"}
    assert list(records.values()) == [3]
    assert text_key(crawl_id) in {entry.key for entry in manifest.objects}
    assert not list(storage.unfinished(f"crawls/{crawl_id}/"))
    assert following.crawl_id != crawl_id
    assert following.close("finished") is True


def test_a_commit_interrupted_after_the_manifest_temp_write_is_recovered(tmp_path):
    store = tmp_path / "store"
    clock = FakeClock()
    crashing = session_on(CrashAfterManifestTempWrite(str(store)), clock)
    crashing.open("lifegate")
    write_one_page(crashing)
    crawl_id = crashing.crawl_id
    with pytest.raises(Crash):
        crashing.close("finished")
    storage = FileStorage(str(store))
    manifest_path = store / manifest_key(crawl_id)
    assert manifest_path.with_name("manifest.json.part").exists()
    assert not storage.exists(manifest_key(crawl_id))
    # Everything but the manifest was published before it: the report too.
    assert storage.exists(report_key(crawl_id))

    clock.advance(minutes=1)
    following = session_on(storage, clock)
    following.open("lifegate")

    manifest = read_manifest(storage, crawl_id)
    assert manifest.status == "recovered"
    keys = {entry.key for entry in manifest.objects}
    assert {report_key(crawl_id), text_key(crawl_id)} <= keys
    assert not manifest_path.with_name("manifest.json.part").exists()
    following.close("finished")


def test_a_lock_is_taken_over_only_once_its_heartbeat_is_stale(tmp_path, caplog):
    storage = FileStorage(str(tmp_path / "store"))
    clock = FakeClock()
    first = session_on(storage, clock)
    first.open("lifegate")
    assert first.heartbeat_interval == 180  # a tenth of the 30 minutes after which it is stale

    clock.advance(minutes=25)
    first.heartbeat()
    clock.advance(minutes=25)  # 50 minutes since the start, 25 since the heartbeat
    refused = session_on(storage, clock)
    with pytest.raises(LockHeld, match="in use by run lifegate@"):
        refused.open("lifegate")
    assert first.lock is not None and StoreLock(storage, "x").current().run_id == first.lock.run_id

    clock.advance(minutes=6)  # 31 minutes without a heartbeat: the holder is presumed dead
    with caplog.at_level(logging.WARNING, logger="archive.lock"):
        taker = session_on(storage, clock)
        taker.open("lifegate")
    assert "Taking over a stale lock" in caplog.text
    assert taker.lock is not None and StoreLock(storage, "x").current().run_id == taker.lock.run_id
    # The stalled first run wakes up: its heartbeat must not overwrite the new holder's lock.
    with caplog.at_level(logging.ERROR, logger="archive.lock"):
        first.heartbeat()
    assert "taken over by run" in caplog.text
    assert StoreLock(storage, "x").current().run_id == taker.lock.run_id
    assert taker.close("finished") is True
    assert not storage.exists(LOCK_KEY)
    first.abort()


def test_a_heartbeat_on_another_thread_never_writes_back_a_released_lock(tmp_path):
    """The heartbeat's storage calls run off the crawl's event loop; the release at the end of
    the crawl may come while one is writing. It waits, and the lock is gone afterwards."""
    import threading

    class SlowPuts(FileStorage):
        def __init__(self, root: str) -> None:
            super().__init__(root)
            self.writing, self.go_on = threading.Event(), threading.Event()

        def put_bytes(self, key, data, *args, **kwargs):
            if key == LOCK_KEY and threading.current_thread().name == "heartbeat":
                self.writing.set()
                self.go_on.wait(10)
            return super().put_bytes(key, data, *args, **kwargs)

    storage = SlowPuts(str(tmp_path / "store"))
    lock = StoreLock(storage, "run-1")
    lock.acquire()
    beat = threading.Thread(target=lock.heartbeat, name="heartbeat")
    beat.start()
    assert storage.writing.wait(10)
    release = threading.Thread(target=lock.release)
    release.start()
    release.join(0.3)
    assert release.is_alive()  # waits for the heartbeat in progress
    storage.go_on.set()
    beat.join(10)
    release.join(10)
    assert not storage.exists(LOCK_KEY)
    assert lock.heartbeat() is False and not storage.exists(LOCK_KEY)


def test_writes_outside_an_open_session_are_refused_with_a_clear_error(tmp_path, caplog):
    storage = FileStorage(str(tmp_path / "store"))
    session = session_on(storage, FakeClock())
    with pytest.raises(SessionClosed, match="not open"):
        asyncio.run(session.write_exchange(exchange()))
    session.open("lifegate")
    write_one_page(session)
    assert session.close("finished") is True

    with pytest.raises(SessionClosed, match=r"is closed \(crawl 20261201T090000Z-lifegate\)"):
        asyncio.run(session.write_exchange(exchange()))
    with pytest.raises(SessionClosed, match="is closed"):
        asyncio.run(session.write_text({"url": URL}))
    with pytest.raises(SessionClosed, match="is closed"):
        session.journal({"type": "gone", "url": URL, "reason": "404"})
    # An event after the close is never silent: counted and logged.
    with caplog.at_level(logging.WARNING, logger="archive.session"):
        session.log_event("gone", URL, "404")
    assert "after the archive closed" in caplog.text
    assert session.stats.get_stats()["archive/events/gone"] == 1
    with pytest.raises(SessionClosed, match="is closed"):
        session.open("lifegate")


def test_a_session_that_cannot_open_releases_the_store(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("")
    session = session_on(storage, FakeClock(), state_dir=str(not_a_folder))
    with pytest.raises(OSError):
        session.open("lifegate")
    assert not storage.exists(LOCK_KEY)
    with pytest.raises(SessionClosed, match="could not open"):
        session.open("lifegate")


def _opened_with_files(tmp_path):
    """An open session on a fresh store, and its crawl files (where the writer's work goes)."""
    session = session_on(FileStorage(str(tmp_path / "store")), FakeClock())
    session.open("lifegate")
    assert session._files is not None
    return session, session._files


def test_lines_go_to_the_writer_with_the_next_write_or_on_their_own_soon_after(tmp_path):
    session, files = _opened_with_files(tmp_path)
    handed = []
    submit = files.submit

    def recording(fn, *args):
        # What each hand-off runs: the queued lines (if any) go first, then the write.
        handed.append(f"lines+{args[1].__name__}" if fn.__name__ == "_lines_then" else fn.__name__)
        return submit(fn, *args)

    files.submit = recording  # type: ignore[method-assign]
    urls = [f"{URL}-{n}" for n in range(6)]

    async def crawl() -> None:
        for url in urls[:3]:
            session.journal({"type": "capture", "url": url, "kind": "response"})
            session.log_event("gone", url, "404")
        # The next record takes the six lines along: one hand-off, lines first.
        locations = await session.write_exchange(exchange())
        assert handed == ["lines+write_exchange"] and locations[0].record_type == "response"
        session.journal({"type": "capture", "url": urls[3], "kind": "response"})
        session.journal({"type": "capture", "url": urls[4], "kind": "response"})
        # Nothing else is written: they go on their own once LINE_WAIT has passed.
        await asyncio.sleep(LINE_WAIT * 5)
        assert handed == ["lines+write_exchange", "lines+_no_write"]
        session.journal({"type": "capture", "url": urls[5], "kind": "response"})
        # Closing before that hands the waiting line over first.
        assert session.close("finished") is True
        assert handed == ["lines+write_exchange", "lines+_no_write", "lines+_no_write"]

    crawl_id = session.crawl_id
    asyncio.run(crawl())

    def lines(key: str) -> list[dict]:
        with session.storage.open(key) as fh:
            return [json.loads(line) for line in fh.read().splitlines()]

    assert [e["url"] for e in lines(ledger_key(crawl_id)) if e["type"] == "capture"] == urls
    events = lines(events_key(crawl_id))
    assert [e["url"] for e in events] == urls[:3]


def test_a_line_that_cannot_be_written_does_not_fail_the_record_it_rides_with(tmp_path, caplog):
    storage = FileStorage(str(tmp_path / "store"))
    session = session_on(storage, FakeClock())
    session.open("lifegate")

    async def write() -> None:
        session.journal({"type": "capture", "url": URL, "kind": "response", "bad": object()})
        locations = await session.write_exchange(exchange())
        assert locations[0].record_type == "response"

    with caplog.at_level(logging.ERROR, logger="archive.session"):
        asyncio.run(write())
    assert "Cannot write a line" in caplog.text
    assert session.close("finished") is True


def test_lines_waiting_for_the_loop_are_kept_when_the_session_aborts(tmp_path):
    session, files = _opened_with_files(tmp_path)

    async def queue_then_abort() -> None:
        session.journal({"type": "capture", "url": URL, "kind": "response"})
        session.abort()  # before the loop turns: the line still reaches the .open journal

    asyncio.run(queue_then_abort())
    [line] = files.journal.path.read_bytes().splitlines()
    assert json.loads(line)["url"] == URL
