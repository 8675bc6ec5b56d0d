"""The crawl's archive: one store, one crawl folder, its WARC, text and event files, its manifest.

A Scrapy extension driven by the ``ARCHIVE_*`` and ``WARC_*`` settings. Other components find it
with ``crawler.get_extension(ArchiveSession)``. All file work runs on one writer thread, never in
the reactor thread; the manifest is written last, when the spider closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from archive.crawl import (
    CrawlManifest,
    ManifestEntry,
    events_key,
    ledger_key,
    log_key,
    manifest_key,
    new_crawl_id,
    report_key,
    text_key,
    warc_key,
)
from archive.index import INDEX_KEY
from archive.indexer import build_indexes
from archive.ledger import Ledger, RecrawlPolicy, ledger_path
from archive.lock import StoreLock
from archive.payload_index import PayloadIndex
from archive.publisher import Publisher, RetryPolicy, publish_spool
from archive.recovery import recover_store
from archive.software import CRAWL_COMPONENTS, product, software_versions
from archive.storage import (
    FileStorage,
    Storage,
    StorageError,
    StoredObject,
    open_storage,
    sha256_file,
)
from archive.warc import (
    OPEN_SUFFIX,
    HttpExchange,
    RecordLocation,
    RollingWarcWriter,
    WarcFileNamer,
)
from pipelines.run_report import build_run_report

logger = logging.getLogger(__name__)

# Seconds a stopping crawl waits for its uploads: a scheduler's grace period is short (systemd: 90 s).
STOP_PUBLISH_TIMEOUT = 15.0


def _json_setting(settings, name: str) -> Any:
    value = settings.get(name)
    return json.loads(value) if isinstance(value, str) else value


class _LineFile:
    """An append-only JSON Lines file built as ``name.open`` and renamed when closed."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.path = final.with_name(final.name + OPEN_SUFFIX)
        self._fh: IO[bytes] | None = None
        self.lines = 0

    def append(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "xb")  # noqa: SIM115 (held open across calls)
        self._fh.write(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        self._fh.flush()
        self.lines += 1

    def close(self) -> Path | None:
        if self._fh is None:
            return None
        self._fh.close()
        self._fh = None
        self.path.replace(self.final)
        return self.final


class ArchiveSession:
    """Owns the store and the files of the running crawl; commits them with a manifest."""

    def __init__(self, crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        self.crawler = crawler
        self.stats = crawler.stats
        self.store_uri = settings.get("ARCHIVE_STORE")
        # Opened here so that a wrong URI stops the crawl before it starts, with one clear error.
        self.storage: Storage = open_storage(
            self.store_uri,
            {**settings.getdict("ARCHIVE_STORAGES_BASE"), **settings.getdict("ARCHIVE_STORAGES")},
            settings,
        )
        self.publish_policy = RetryPolicy(
            attempts=settings.getint("ARCHIVE_PUBLISH_RETRIES"),
            backoff=settings.getfloat("ARCHIVE_PUBLISH_BACKOFF"),
        )
        self.publish_timeout = settings.getfloat("ARCHIVE_PUBLISH_TIMEOUT")
        # Uploads run on their own thread so a slow or unreachable store never stalls the crawl;
        # a local store publishes in place, so only remote ones pay for re-checking each file.
        self.publisher = Publisher(
            self.storage,
            policy=self.publish_policy,
            verify=not isinstance(self.storage, FileStorage),
        )
        self._pending: list[tuple[str, Path, int | None, Future]] = []
        self.index_at_commit = settings.getbool("ARCHIVE_INDEX_AT_COMMIT")
        self.dedup_payloads = settings.getbool("ARCHIVE_REVISIT_IDENTICAL_PAYLOADS")
        # Set when the crawl opens: the payloads already archived, for revisit records.
        self.payloads: PayloadIndex | None = None
        self.recover_on_start = settings.getbool("ARCHIVE_RECOVER_ON_START")
        self.state_dir = settings.get("ARCHIVE_STATE_DIR") or None
        self.policy = RecrawlPolicy.from_pairs(_json_setting(settings, "ARCHIVE_RECRAWL_INTERVALS"))
        self.lock_stale_after = timedelta(seconds=settings.getfloat("ARCHIVE_LOCK_STALE_AFTER"))
        self.warc_enabled = settings.getbool("WARC_ENABLED")
        self.warc_prefix = settings.get("WARC_PREFIX")
        self.warc_max_size = settings.getint("WARC_MAX_SIZE")
        self.warc_gzip_level = settings.getint("WARC_GZIP_LEVEL")
        self.warc_fsync = settings.getbool("WARC_FSYNC")
        self.warcinfo_settings = {
            "operator": settings.get("ARCHIVE_OPERATOR") or "",
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        }
        self.log_file = settings.getbool("ARCHIVE_LOG_FILE")
        self.log_level = settings.get("LOG_LEVEL")
        self._log_handler: logging.Handler | None = None
        self.crawl_id: str | None = None
        self.started: datetime | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._warc: RollingWarcWriter | None = None
        self._text: _LineFile | None = None
        self._events: _LineFile | None = None
        self._journal: _LineFile | None = None
        self._seen: dict[str, tuple[set[str], str | None]] = {}
        self._captured: set[str] = set()
        self.ledger: Ledger | None = None
        self.lock: StoreLock | None = None
        self._heartbeat: task.LoopingCall | None = None
        self._closing: asyncio.Future | None = None
        # Hooks for the workers of a distributed run (set by crawler.distributed.DistributedRun).
        self.run_id = settings.get("ARCHIVE_RUN_ID") or None
        self.worker_id = settings.get("ARCHIVE_WORKER_ID") or None
        self.lock_release_allowed: Callable[[], bool] = lambda: True

    @classmethod
    def from_crawler(cls, crawler) -> ArchiveSession:
        session = cls(crawler)
        crawler.signals.connect(session.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(session.spider_closed, signal=signals.spider_closed)
        return session

    # --- lifecycle ---------------------------------------------------------------------------

    def spider_opened(self, spider) -> None:
        self.open(spider.name)

    def open(self, spider_name: str) -> None:
        if self.crawl_id is not None:
            return
        try:
            self._open(spider_name)
        except Exception:
            # Crawling on without an archive would fetch pages only to lose them.
            logger.critical(
                "Cannot open the archive in %s; stopping the crawl", self.store_uri, exc_info=True
            )
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason="archive-failed")
            )
            raise

    def _open(self, spider_name: str) -> None:
        self.started = datetime.now(UTC)
        run_id = f"{spider_name}@{self.started.isoformat()}"
        self.lock = StoreLock(
            self.storage, self.run_id or run_id, stale_after=self.lock_stale_after
        )
        self.lock.acquire(join=self.run_id is not None)  # LockHeld: another run is using this store
        self._heartbeat = task.LoopingCall(self.lock.heartbeat)
        self._heartbeat.start(max(self.lock_stale_after.total_seconds() / 10, 1), now=False)
        if any(True for _ in self.storage.pending()):
            # A previous run could not reach the store: finish its uploads (and commits) first.
            publish_spool(self.storage, policy=self.publish_policy)
        if self.recover_on_start:
            # A distributed run's own crawls may belong to live workers: its reconciliation recovers
            # those of dead workers, so they are left alone here.
            same_run = (
                (lambda crawl_id: f".{self.run_id}." in crawl_id)
                if self.run_id
                else (lambda crawl_id: False)
            )
            for crawl_id in recover_store(
                self.storage, software_versions(*CRAWL_COMPONENTS), skip=same_run
            ):
                self.stats.inc_value("archive/recovered_crawls")
                logger.warning("Recovered interrupted crawl %s", crawl_id)
        self.ledger = Ledger.open_synced(ledger_path(self.storage, self.state_dir), self.storage)
        if self.dedup_payloads:
            self.payloads = PayloadIndex.from_store(self.storage)
            self.stats.set_value("archive/known_payloads", len(self.payloads))
        # A distributed run's worker names itself in its crawl id: <ts>-<spider>.<run>.<worker>.
        name = f"{spider_name}.{self.run_id}.{self.worker_id}" if self.run_id else spider_name
        self.crawl_id = new_crawl_id(name, self.started)
        while self.storage.exists(manifest_key(self.crawl_id)):
            # Two runs in one second: the later one waits for a fresh id rather than mixing files.
            self.started = datetime.now(UTC)
            self.crawl_id = new_crawl_id(name, self.started)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
        warc_dir = self.storage.staging_path(warc_key(self.crawl_id, "x")).parent
        self._warc = RollingWarcWriter(
            warc_dir,
            namer=WarcFileNamer(
                self.warc_prefix,
                hostname=socket.gethostname() + (f"-{self.worker_id}" if self.worker_id else ""),
            ),
            warcinfo_fields=self._warcinfo_fields(),
            max_size=self.warc_max_size,
            gzip_level=self.warc_gzip_level,
            fsync=self.warc_fsync,
            on_close=self._warc_closed,
        )
        self._text = _LineFile(self.storage.staging_path(text_key(self.crawl_id)))
        self._events = _LineFile(self.storage.staging_path(events_key(self.crawl_id)))
        self._journal = _LineFile(self.storage.staging_path(ledger_key(self.crawl_id)))
        self.stats.set_value("archive/crawl_id", self.crawl_id)
        self.stats.set_value("archive/store", self.storage.uri)
        if self.log_file:
            self._start_log()
        logger.info("Archiving crawl %s into %s", self.crawl_id, self.storage.uri)

    def _start_log(self) -> None:
        """The crawl's log (Scrapy's and ours) as a file of the crawl, ``crawl.log``."""
        assert self.crawl_id is not None
        final = self.storage.staging_path(log_key(self.crawl_id))
        final.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(final.with_name(final.name + OPEN_SUFFIX), encoding="utf-8")
        handler.setLevel(self.log_level)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        self._log_handler = handler
        for waiting in list(root.handlers):
            # Lines logged before this file existed, held by whoever set up logging: written first.
            if isinstance(waiting, logging.handlers.MemoryHandler) and waiting.target is None:
                waiting.setTarget(handler)
                waiting.flush()
                root.removeHandler(waiting)
                waiting.close()

    def _stop_log(self) -> None:
        handler, self._log_handler = self._log_handler, None
        if handler is None or self.crawl_id is None:
            return
        logging.getLogger().removeHandler(handler)
        handler.close()
        final = self.storage.staging_path(log_key(self.crawl_id))
        final.with_name(final.name + OPEN_SUFFIX).replace(final)
        self._publish(log_key(self.crawl_id), final)

    def _warcinfo_fields(self) -> dict[str, str]:
        return {
            "software": product("scrapy", "warcio"),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
            "isPartOf": self.crawl_id or "",
            **{k: v for k, v in self.warcinfo_settings.items() if v},
        }

    def _publish(self, key: str, path: Path, records: int | None = None) -> None:
        """Hand a closed file to the publisher thread; its manifest entry is made at the end."""
        self._pending.append((key, path, records, self.publisher.submit(key, path, records)))

    def _warc_closed(self, path: Path, records: int) -> None:
        assert self.crawl_id is not None
        self._publish(warc_key(self.crawl_id, path.name), path, records)
        self.stats.inc_value("warc/files")

    def hurry(self) -> None:
        """The crawl is stopping (SIGINT/SIGTERM): commit what is complete without long waits.
        Uploads get one attempt each; what does not make it in time waits in the spool."""
        self.publish_timeout = min(self.publish_timeout, STOP_PUBLISH_TIMEOUT)
        self.publisher.hurry()

    def spider_closed(self, spider, reason: str) -> None:
        if self.crawl_id is None or self._executor is None:
            return
        # The crawl is over: nothing else runs in the reactor, so closing inline is harmless.
        try:
            self._close(spider, reason)
        except OSError as exc:
            logger.error(
                "Crawl %s not committed: %s (the next run recovers it)", self.crawl_id, exc
            )
            self.stats.set_value("archive/commit_error", str(exc))

    def _close(self, spider, reason: str) -> None:
        assert self._executor is not None  # spider_closed checked it
        try:
            self._executor.shutdown(wait=True)
            self._write_seen()
            self._close_files()
            self._write_report(reason)
            committed = self._commit(spider.name, reason)
            if committed and self.ledger is not None:
                self.ledger.sync(self.storage)
            if committed and self.index_at_commit:
                self._index()
        finally:
            self.publisher.close(0)
            if self._heartbeat is not None and self._heartbeat.running:
                self._heartbeat.stop()
            if self.lock is not None and self.lock_release_allowed():
                self.lock.release()
            if self.ledger is not None:
                self.ledger.close()

    def _close_files(self) -> None:
        assert self.crawl_id is not None
        if self._warc is not None:
            self._warc.close()
        for line_file, key in (
            (self._text, text_key),
            (self._events, events_key),
            (self._journal, ledger_key),
        ):
            if line_file is not None and (closed := line_file.close()) is not None:
                self._publish(key(self.crawl_id), closed)
        self._stop_log()

    def _commit(self, spider_name: str, reason: str) -> bool:
        """Wait for the uploads, then write the manifest: into the store when every file made it,
        else into the spool, for ``lifegate-archive publish`` to finish. True when committed."""
        assert self.crawl_id is not None and self.started
        drained = self._drain()
        entries = []
        unpublished = []
        self.stats.set_value("store/bytes", self._stored_bytes())
        for key, path, records, future in self._pending:
            if future.done() and not future.cancelled() and future.exception() is None:
                stored = future.result()
            else:
                unpublished.append(key)
                stored = StoredObject(key, path.stat().st_size, sha256_file(path))
            entries.append(ManifestEntry.from_stored(stored, records))
        stats = {k: v for k, v in self.stats.get_stats().items() if k != "archive/store"}
        manifest = CrawlManifest(
            crawl_id=self.crawl_id,
            spider=spider_name,
            started=self.started.isoformat(),
            finished=datetime.now(UTC).isoformat(),
            status=reason,
            objects=sorted(entries, key=lambda e: e.key),
            stats=stats,
            software=software_versions(*CRAWL_COMPONENTS),
            settings=self.warcinfo_settings,
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
        self.storage.staging_path(key).write_bytes(manifest.to_json())
        self.stats.set_value("archive/unpublished", len(unpublished) + 1)
        logger.error(
            "Crawl %s is NOT committed: %d files and its manifest wait in the spool; "
            "run `lifegate-archive publish` when the store is reachable",
            self.crawl_id,
            len(unpublished),
        )
        return False

    def _index(self) -> None:
        """Index the committed crawl and update the merged index; a failure leaves the crawl
        committed and says how to finish."""
        try:
            report = build_indexes(self.storage)
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

    # --- writing (each call runs on the writer thread) -------------------------------------------

    async def _run(self, fn, *args):
        if self._executor is None:
            raise RuntimeError("the archive session is not open")
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    async def write_exchange(self, exchange: HttpExchange) -> list[RecordLocation]:
        """Archive one exchange; returns the response record's location, then the request's."""
        if not self.warc_enabled or self._warc is None:
            return []
        locations = await self._run(self._warc.write_exchange, exchange)
        self.stats.inc_value("warc/records", len(locations))
        self.stats.inc_value("warc/exchanges")
        self.stats.inc_value("warc/payload_bytes", len(exchange.body))
        return locations

    async def write_revisit(self, exchange: HttpExchange, **revisit: Any) -> list[RecordLocation]:
        """Archive an exchange whose payload is already archived, as a revisit record."""
        if not self.warc_enabled or self._warc is None:
            return []
        locations = await self._run(lambda: self._warc.write_revisit(exchange, **revisit))
        self.stats.inc_value("warc/records", len(locations))
        self.stats.inc_value("warc/revisits")
        return locations

    def warc_store_key(self, filename: str) -> str:
        assert self.crawl_id is not None
        return warc_key(self.crawl_id, filename)

    async def write_text(self, record: dict[str, Any]) -> None:
        assert self._text is not None
        await self._run(self._text.append, record)
        self.stats.inc_value("archive/text_records")

    def seen(self, url: str, source: str, sitemap_lastmod: str | None = None) -> None:
        """Note that ``source`` (sitemap, feed, listing, link) revealed ``url`` in this run."""
        sources, lastmod = self._seen.get(url, (set(), None))
        sources.add(source)
        self._seen[url] = (sources, sitemap_lastmod or lastmod)

    def journal(self, event: dict[str, Any]) -> None:
        """Append an article event (capture, gone) to this crawl's ledger journal."""
        if event.get("type") == "capture":
            self._captured.add(event["url"])
        if self._executor is None or self._journal is None:
            raise RuntimeError("the archive session is not open")
        event.setdefault("time", datetime.now(UTC).isoformat())
        self._executor.submit(self._journal.append, event)

    def _write_seen(self) -> None:
        # Only articles go in the ledger: URLs it knows, or that this run captured as articles.
        assert self._journal is not None and self.ledger is not None
        now = datetime.now(UTC).isoformat()
        for url, (sources, lastmod) in sorted(self._seen.items()):
            if url in self._captured or self.ledger.get(url) is not None:
                event = {"type": "seen", "url": url, "sources": sorted(sources), "time": now}
                if lastmod:
                    event["sitemap_lastmod"] = lastmod
                self._journal.append(event)

    def _drain(self) -> bool:
        """Wait for the uploads, up to ``publish_timeout`` (which a stop shortens meanwhile)."""
        started = time.monotonic()
        while not self.publisher.drain(1.0):
            if time.monotonic() - started >= self.publish_timeout:
                return False
        return True

    def _stored_bytes(self) -> int:
        """Bytes the store has received so far for this crawl's files."""
        return sum(
            future.result().size
            for _, _, _, future in self._pending
            if future.done() and not future.cancelled() and future.exception() is None
        )

    def _write_report(self, reason: str) -> None:
        assert self.crawl_id is not None and self.started is not None
        # The report counts the bytes the store received: the crawl's files go first.
        self._drain()
        self.stats.set_value("store/bytes", self._stored_bytes())
        report = build_run_report(self.crawl_id, self.started, reason, self.stats.get_stats())
        self.stats.set_value("report", report["summary"])
        key = report_key(self.crawl_id)
        path = self.storage.staging_path(key)
        path.write_bytes(json.dumps(report, indent=2, sort_keys=True, default=str).encode() + b"\n")
        self._publish(key, path)

    def write_metadata(
        self, target_uri: str, concurrent_to: str | None, fields: dict[str, str]
    ) -> None:
        """Append a metadata record about an archived record (a flag, a note) on the writer thread."""
        if not self.warc_enabled or self._warc is None or self._executor is None:
            return
        writer = self._warc

        def written(done) -> None:
            if done.exception() is not None:
                logger.error(
                    "Cannot write a metadata record for %s: %s", target_uri, done.exception()
                )

        try:
            future = self._executor.submit(
                writer.write,
                lambda info_id: [writer.factory.metadata(target_uri, concurrent_to, fields)],
            )
        except RuntimeError:  # the session already closed
            logger.warning("Cannot flag %s (%s): the archive is closed", target_uri, fields)
            return
        future.add_done_callback(written)
        self.stats.inc_value("warc/records")
        self.stats.inc_value("warc/metadata_records")

    def log_event(self, kind: str, url: str, reason: str, **details: Any) -> None:
        """Record something that went wrong or was skipped, with its reason (never silent)."""
        self.stats.inc_value(f"archive/events/{kind}")
        logger.info("%s %s: %s", kind, url, reason)
        if self._executor is None or self._events is None:
            logger.warning("%s %s: %s", kind, url, reason)
            return
        event = {
            "time": datetime.now(UTC).isoformat(),
            "kind": kind,
            "url": url,
            "reason": reason,
            **details,
        }
        try:
            self._executor.submit(self._events.append, event)
        except RuntimeError:  # the session already closed: the log line above is all that is left
            logger.warning("%s %s: %s (after the archive closed)", kind, url, reason)
