"""One crawl's archive, without Scrapy: the store lock, recovery of earlier interrupted crawls, the
crawl's WARC, text, event and journal files written on one writer thread, and the commit.

The commit protocol is the archive's key invariant: every file of the crawl is closed and published
first, the manifest last, so a crawl folder without a manifest is unfinished and the next session
to open the store recovers it (``archive.recovery``). A crawler drives a :class:`CrawlSession`:
``open``, writes, ``heartbeat`` on its own schedule, then ``close`` (commit) or ``abort``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from archive.atomic_file import write_atomic
from archive.crawl import (
    CrawlManifest,
    is_committed,
    manifest_key,
    new_crawl_id,
    report_key,
    warc_key,
)
from archive.crawl_files import CrawlFiles, CrawlUploads, LineFile, WarcOptions
from archive.index import INDEX_KEY
from archive.indexer import build_indexes
from archive.ledger import Ledger, RecrawlPolicy, ledger_path
from archive.lock import StoreLock
from archive.payload_index import PayloadIndex
from archive.publisher import Publisher, RetryPolicy, publish_spool
from archive.recovery import recover_store
from archive.software import CRAWL_COMPONENTS, software_versions
from archive.storage import Storage, StorageError
from archive.warc import HttpExchange, RecordLocation

logger = logging.getLogger(__name__)

# The crawl's report from its id, start, finish reason and stats; its "summary" joins the stats.
ReportBuilder = Callable[[str, datetime, str, dict[str, Any]], dict[str, Any]]


def utc_now() -> datetime:
    return datetime.now(UTC)


# Longest a journal or event line waits for another write to go to the writer thread with.
LINE_WAIT = 0.01


def _append_lines(lines: list[tuple[LineFile, dict[str, Any]]]) -> None:
    """Write queued journal and event lines in order (on the writer thread)."""
    for line_file, line in lines:
        try:
            line_file.append(line)
        except Exception as exc:  # noqa: BLE001 (a bad line must not fail the write it rides with)
            logger.error("Cannot write a line to %s: %s (%s)", line_file.path.name, exc, line)


def _no_write() -> None:
    """What a hand-off of queued lines alone runs after them."""


def _lines_then(
    lines: list[tuple[LineFile, dict[str, Any]]], fn: Callable[..., Any], args: tuple[Any, ...]
) -> Any:
    _append_lines(lines)
    return fn(*args)


class SessionClosed(RuntimeError):
    """A write reached a session that is not open (not yet, or no longer)."""


class Stats(Protocol):
    """The counters a session keeps (Scrapy's stats collector is one)."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...

    def set_value(self, key: str, value: Any) -> None: ...

    def get_stats(self) -> dict[str, Any]: ...


class CrawlStats:
    """Plain in-memory :class:`Stats`, for sessions run outside a Scrapy crawl."""

    def __init__(self) -> None:
        self._stats: dict[str, Any] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self._stats[key] = self._stats.setdefault(key, start) + count

    def set_value(self, key: str, value: Any) -> None:
        self._stats[key] = value

    def get_stats(self) -> dict[str, Any]:
        return self._stats


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """What a crawl session needs to know besides its store (the ``ARCHIVE_*`` settings)."""

    warc: WarcOptions
    recover_on_start: bool
    state_dir: str | None
    recrawl_policy: RecrawlPolicy
    lock_stale_after: timedelta
    dedup_payloads: bool
    index_at_commit: bool
    publish_policy: RetryPolicy
    publish_timeout: float
    # Written into each WARC's warcinfo record and the manifest.
    warcinfo_settings: dict[str, str]
    log_file: bool
    log_level: str | int
    # A distributed run's workers share the lock under the run's id and name themselves in crawl ids.
    run_id: str | None = None
    worker_id: str | None = None


class CrawlSession:
    """Owns the store and the files of one running crawl; commits them with a manifest.

    ``clock`` gives the times written into ids, events and manifests and judges the lock's
    heartbeats; ``monotonic`` times the waits for uploads. Tests pass fakes of both.
    """

    def __init__(
        self,
        storage: Storage,
        options: SessionOptions,
        *,
        report: ReportBuilder,
        stats: Stats | None = None,
        publisher: Publisher | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.options = options
        self.report = report
        self.stats: Stats = stats if stats is not None else CrawlStats()
        # Uploads run on their own thread so a slow or unreachable store never stalls the crawl.
        self.publisher = publisher or Publisher(storage, policy=options.publish_policy)
        self.clock = clock
        self.policy = options.recrawl_policy
        self._uploads = CrawlUploads(self.publisher, options.publish_timeout, monotonic)
        self.run_id = options.run_id
        self.worker_id = options.worker_id
        # A distributed run keeps the lock while other workers still run.
        self.lock_release_allowed: Callable[[], bool] = lambda: True
        self.crawl_id: str | None = None
        self.spider: str | None = None
        self.started: datetime | None = None
        self.closed = False
        self.ledger: Ledger | None = None
        self.lock: StoreLock | None = None
        # Set when the crawl opens: the payloads already archived, for revisit records.
        self.payloads: PayloadIndex | None = None
        self._files: CrawlFiles | None = None
        self._open_error: BaseException | None = None
        self._seen: dict[str, tuple[set[str], str | None]] = {}
        self._captured: set[str] = set()
        # Journal and event lines wait here for the next write to the writer thread, or at most
        # LINE_WAIT (see ``_append_line``). The lock: a close may run on another thread than the
        # one appending.
        self._lines: list[tuple[LineFile, dict[str, Any]]] = []
        self._lines_lock = threading.Lock()

    # --- opening -------------------------------------------------------------------------------

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between heartbeats: a tenth of the time after which the lock counts as stale."""
        return max(self.options.lock_stale_after.total_seconds() / 10, 1)

    def heartbeat(self) -> None:
        """Renew the lock's sign of life; the caller schedules it every ``heartbeat_interval``."""
        if self.lock is not None and not self.closed:
            self.lock.heartbeat()

    def open(self, spider_name: str) -> None:
        """Take the store (``LockHeld`` if another live run has it), recover earlier interrupted
        crawls, open the ledger and start the crawl. A second call does nothing, one after the close
        is refused; a failure leaves the store unlocked and the session closed."""
        if self.closed:
            raise self._refused()
        if self.crawl_id is not None:
            return
        try:
            self._open(spider_name)
        except BaseException as exc:
            self._open_error = exc
            # A distributed run's lock is shared with live workers: it is left to go stale.
            self.abort(release=self.run_id is None)
            raise

    def _open(self, spider_name: str) -> None:
        started = self.clock()
        self.lock = StoreLock(
            self.storage,
            self.run_id or f"{spider_name}@{started.isoformat()}",
            stale_after=self.options.lock_stale_after,
            clock=self.clock,
        )
        self.lock.acquire(join=self.run_id is not None)
        if any(True for _ in self.storage.pending()):
            # A previous run could not reach the store: finish its uploads (and commits) first.
            publish_spool(self.storage, policy=self.options.publish_policy)
        if self.options.recover_on_start:
            self._recover()
        self.ledger = Ledger.open_synced(
            ledger_path(self.storage, self.options.state_dir), self.storage
        )
        if self.options.dedup_payloads:
            self.payloads = PayloadIndex.from_store(self.storage)
            self.stats.set_value("archive/known_payloads", len(self.payloads))
        # A distributed run's worker names itself in its crawl id: <ts>-<spider>.<run>.<worker>.
        name = f"{spider_name}.{self.run_id}.{self.worker_id}" if self.run_id else spider_name
        crawl_id = new_crawl_id(name, started)
        while is_committed(self.storage, crawl_id):
            # Two runs in one second: the later one waits for a fresh id rather than mixing files.
            started = self.clock()
            crawl_id = new_crawl_id(name, started)
        self.spider, self.started = spider_name, started
        self._files = CrawlFiles(
            self.storage,
            crawl_id,
            self.options.warc,
            warcinfo_settings=self.options.warcinfo_settings,
            worker_id=self.worker_id,
            on_warc_closed=self._warc_closed,
            index_lines=self.options.index_at_commit,
        )
        # Set last: a session with a crawl id is open.
        self.crawl_id = crawl_id
        self.stats.set_value("archive/crawl_id", crawl_id)
        self.stats.set_value("archive/store", self.storage.uri)
        if self.options.log_file:
            self._files.start_log(self.options.log_level)
        logger.info("Archiving crawl %s into %s", crawl_id, self.storage.uri)

    def _recover(self) -> None:
        # A distributed run's own crawls may belong to live workers: its reconciliation recovers
        # those of dead workers, so they are left alone here.
        run_id = self.run_id
        same_run = (
            (lambda crawl_id: f".{run_id}." in crawl_id) if run_id else (lambda crawl_id: False)
        )
        for crawl_id in recover_store(
            self.storage, software_versions(*CRAWL_COMPONENTS), skip=same_run
        ):
            self.stats.inc_value("archive/recovered_crawls")
            logger.warning("Recovered interrupted crawl %s", crawl_id)

    # --- writing: file work runs on the writer thread --------------------------------------------

    def _refused(self) -> SessionClosed:
        if self._open_error is not None:
            return SessionClosed(f"the archive session could not open: {self._open_error}")
        state = "closed" if self.closed else "not open"
        return SessionClosed(f"the archive session is {state} (crawl {self.crawl_id or '-'})")

    def _open_files(self) -> CrawlFiles:
        if self._files is None or self.closed:
            raise self._refused()
        return self._files

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        files = self._open_files()
        if self._lines:
            with self._lines_lock:
                lines, self._lines = self._lines, []
            if lines:
                fn, args = _lines_then, (lines, fn, args)
        try:
            return files.submit(fn, *args)
        except RuntimeError as exc:  # shut down by a close running on another thread
            if fn is _lines_then:
                for _, line in args[0]:
                    logger.warning("Line not written, the archive is closed: %s", line)
            if isinstance(exc, SessionClosed):
                raise
            raise self._refused() from None

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self._submit(fn, *args))

    async def write_exchange(self, exchange: HttpExchange) -> list[RecordLocation]:
        """Archive one exchange; returns the response record's location, then the request's."""
        if not self.options.warc.enabled:
            return []
        locations = await self._run(self._open_files().warc.write_exchange, exchange)
        self.stats.inc_value("warc/records", len(locations))
        self.stats.inc_value("warc/exchanges")
        self.stats.inc_value("warc/payload_bytes", len(exchange.body))
        return locations

    async def write_revisit(self, exchange: HttpExchange, **revisit: Any) -> list[RecordLocation]:
        """Archive an exchange whose payload is already archived, as a revisit record."""
        if not self.options.warc.enabled:
            return []
        warc = self._open_files().warc
        locations = await self._run(lambda: warc.write_revisit(exchange, **revisit))
        self.stats.inc_value("warc/records", len(locations))
        self.stats.inc_value("warc/revisits")
        return locations

    async def write_text(self, record: dict[str, Any]) -> None:
        """Append an extracted text record to the crawl's ``text.jsonl``."""
        await self._run(self._open_files().text.append, record)
        self.stats.inc_value("archive/text_records")

    def warc_store_key(self, filename: str) -> str:
        assert self.crawl_id is not None
        return warc_key(self.crawl_id, filename)

    def seen(self, url: str, source: str, sitemap_lastmod: str | None = None) -> None:
        """Note that ``source`` (sitemap, feed, listing, link) revealed ``url`` in this run."""
        sources, lastmod = self._seen.get(url, (set(), None))
        sources.add(source)
        self._seen[url] = (sources, sitemap_lastmod or lastmod)

    def journal(self, event: dict[str, Any]) -> None:
        """Append an article event (capture, gone) to this crawl's ledger journal."""
        if event.get("type") == "capture":
            self._captured.add(event["url"])
        journal = self._open_files().journal
        event.setdefault("time", self.clock().isoformat())
        self._append_line(journal, event)

    def _append_line(self, line_file: LineFile, line: dict[str, Any]) -> None:
        """Queue a line for ``line_file``: it goes to the writer thread with the next write
        submitted (a WARC record, a text record), or on its own after ``LINE_WAIT`` seconds of
        the running event loop (at once without one).

        Each hand-off wakes the writer thread, a cost the crawl's event loop pays; a crawl writes a
        record for every response, so the lines ride along with those. The writer thread still
        writes each line before any record submitted after it, so a killed process loses no line
        that a later record outlives: only the tail, as before (the ledger is rebuilt from what
        was committed). A line waits on its own at most ``LINE_WAIT``, when nothing else is
        written. Closing and aborting hand the queue over first."""
        with self._lines_lock:
            first = not self._lines
            self._lines.append((line_file, line))
        if not first:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush_lines()
        else:
            loop.call_later(LINE_WAIT, self._flush_lines)

    def _flush_lines(self) -> None:
        if not self._lines:
            return
        try:
            self._submit(_no_write)  # takes the queued lines along, as any write does
        except SessionClosed:
            with self._lines_lock:
                lines, self._lines = self._lines, []
            for _, line in lines:
                logger.warning("Line not written, the archive is closed: %s", line)

    def write_metadata(
        self, target_uri: str, concurrent_to: str | None, fields: dict[str, str]
    ) -> None:
        """Append a metadata record about an archived record (a flag, a note) on the writer thread."""
        if not self.options.warc.enabled or self._files is None:
            return
        writer = self._files.warc

        def written(done) -> None:
            if done.exception() is not None:
                logger.error(
                    "Cannot write a metadata record for %s: %s", target_uri, done.exception()
                )

        try:
            future = self._submit(
                writer.write,
                lambda info_id: [writer.factory.metadata(target_uri, concurrent_to, fields)],
            )
        except SessionClosed:
            logger.warning("Cannot flag %s (%s): the archive is closed", target_uri, fields)
            return
        future.add_done_callback(written)
        self.stats.inc_value("warc/records")
        self.stats.inc_value("warc/metadata_records")

    def log_event(self, kind: str, url: str, reason: str, **details: Any) -> None:
        """Record something that went wrong or was skipped, with its reason (never silent)."""
        self.stats.inc_value(f"archive/events/{kind}")
        logger.info("%s %s: %s", kind, url, reason)
        if self._files is None:
            logger.warning("%s %s: %s", kind, url, reason)
            return
        events = self._files.events
        event = {
            "time": self.clock().isoformat(),
            "kind": kind,
            "url": url,
            "reason": reason,
            **details,
        }
        try:
            self._open_files()
        except SessionClosed:  # the log line above is all that is left
            logger.warning("%s %s: %s (after the archive closed)", kind, url, reason)
            return
        self._append_line(events, event)

    # --- committing ------------------------------------------------------------------------------

    def hurry(self) -> None:
        """The crawl is stopping (SIGINT/SIGTERM): commit what is complete without long waits.
        Uploads get one attempt each; what does not make it in time waits in the spool."""
        self._uploads.hurry()

    def close(self, reason: str) -> bool:
        """Finish the writes, close and publish the crawl's files, write its report, then commit it
        with its manifest (and index it). True when committed; a crawl that could not be is
        recovered by the next session. Always releases the store. Nothing to do unless open."""
        if self.crawl_id is None or self._files is None or self.closed:
            return False
        try:
            return self._close(reason)
        except OSError as exc:
            logger.error(
                "Crawl %s not committed: %s (the next run recovers it)", self.crawl_id, exc
            )
            self.stats.set_value("archive/commit_error", str(exc))
            return False

    def _close(self, reason: str) -> bool:
        files = self._files
        assert files is not None  # close checked it
        try:
            self._flush_lines()
            files.finish_writes()
            self.closed = True
            self._write_seen(files)
            for key, path in files.close():
                self._uploads.publish(key, path)
            self._write_report(reason)
            committed = self._commit(reason)
            if committed and self.ledger is not None:
                self.ledger.sync(self.storage)
            if committed and self.options.index_at_commit:
                self._index(files)
            return committed
        finally:
            if files.index_lines is not None:
                files.index_lines.discard()
            self.publisher.close(0)
            self._release()

    def abort(self, *, release: bool = True) -> None:
        """Stop without committing: the writes in progress finish, the files stay as they are for
        the next session to recover, and the store is released (unless not ``release``)."""
        if self._files is not None and not self.closed:
            self._flush_lines()
        self.closed = True
        if self._files is not None:
            self._files.abandon()
        self.publisher.close(0)
        self._release(lock=release)

    def _release(self, *, lock: bool = True) -> None:
        self.closed = True
        if lock and self.lock is not None and self.lock_release_allowed():
            self.lock.release()
        if self.ledger is not None:
            self.ledger.close()

    def _warc_closed(self, path: Path, records: int) -> None:
        assert self.crawl_id is not None
        self._uploads.publish(warc_key(self.crawl_id, path.name), path, records)
        self.stats.inc_value("warc/files")

    def _write_seen(self, files: CrawlFiles) -> None:
        # Only articles go in the ledger: URLs it knows, or that this run captured as articles.
        assert self.ledger is not None
        now = self.clock().isoformat()
        for url, (sources, lastmod) in sorted(self._seen.items()):
            if url in self._captured or self.ledger.get(url) is not None:
                event = {"type": "seen", "url": url, "sources": sorted(sources), "time": now}
                if lastmod:
                    event["sitemap_lastmod"] = lastmod
                files.journal.append(event)

    def _write_report(self, reason: str) -> None:
        assert self.crawl_id is not None and self.started is not None
        # The report counts the bytes the store received: the crawl's files go first.
        self._uploads.drain()
        self.stats.set_value("store/bytes", self._uploads.stored_bytes())
        report = self.report(self.crawl_id, self.started, reason, self.stats.get_stats())
        self.stats.set_value("report", report.get("summary"))
        key = report_key(self.crawl_id)
        path = self.storage.staging_path(key)
        write_atomic(
            path, json.dumps(report, indent=2, sort_keys=True, default=str).encode() + b"\n"
        )
        self._uploads.publish(key, path)

    def _commit(self, reason: str) -> bool:
        """Wait for the uploads, then write the manifest: into the store when every file made it,
        else into the spool, for ``lifegate-archive publish`` to finish. True when committed."""
        assert self.crawl_id is not None and self.started is not None and self.spider is not None
        drained = self._uploads.drain()
        self.stats.set_value("store/bytes", self._uploads.stored_bytes())
        entries, unpublished = self._uploads.entries()
        stats = {k: v for k, v in self.stats.get_stats().items() if k != "archive/store"}
        manifest = CrawlManifest(
            crawl_id=self.crawl_id,
            spider=self.spider,
            started=self.started.isoformat(),
            finished=self.clock().isoformat(),
            status=reason,
            objects=entries,
            stats=stats,
            software=software_versions(*CRAWL_COMPONENTS),
            settings=self.options.warcinfo_settings,
        )
        key = manifest_key(self.crawl_id)
        if drained and not unpublished:
            try:
                manifest.write(self.storage)
            except (StorageError, OSError) as exc:
                logger.error("Cannot publish the manifest of crawl %s: %s", self.crawl_id, exc)
            else:
                logger.info(
                    "Committed crawl %s: %d objects, manifest %s", self.crawl_id, len(entries), key
                )
                return True
        # Not committed: the manifest waits beside the files in the spool.
        write_atomic(self.storage.staging_path(key), manifest.to_json())
        self.stats.set_value("archive/unpublished", len(unpublished) + 1)
        logger.error(
            "Crawl %s is NOT committed: %d files and its manifest wait in the spool; "
            "run `lifegate-archive publish` when the store is reachable",
            self.crawl_id,
            len(unpublished),
        )
        return False

    def _index(self, files: CrawlFiles) -> None:
        """Index the committed crawl and update the merged index; a failure leaves the crawl
        committed and says how to finish."""
        assert self.crawl_id is not None
        written = {self.crawl_id: files.index_lines} if files.index_lines is not None else None
        try:
            report = build_indexes(self.storage, written=written)
        except (StorageError, OSError, ValueError) as exc:
            logger.error(
                "Crawl %s is committed but not indexed: %s; run `lifegate-archive index`",
                self.crawl_id,
                exc,
            )
            self.stats.set_value("archive/index_error", str(exc))
            return
        self.stats.set_value("archive/index_records", report.records)
        logger.info(
            "Indexed crawl %s: %s holds %d records", self.crawl_id, INDEX_KEY, report.merged_lines
        )
