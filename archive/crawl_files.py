"""The files of one running crawl, written on one writer thread: its WARCs, ``text.jsonl``,
``events.jsonl``, ledger journal and ``crawl.log``; and their uploads, which become the entries of
the crawl's manifest.

Each file is built as ``name.open`` and renamed when closed, so a killed process leaves files that
``archive.recovery`` knows how to close. The crawl session (``archive.session``) owns both.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from archive.crawl import ManifestEntry, events_key, ledger_key, log_key, text_key, warc_key
from archive.indexer import CrawlIndexLines
from archive.publisher import Publisher
from archive.software import product
from archive.storage import Storage, StoredObject, sha256_file
from archive.warc import OPEN_SUFFIX, RollingWarcWriter, WarcFileNamer

# Seconds a stopping crawl waits for its uploads: a scheduler's grace period is short (systemd: 90 s).
STOP_PUBLISH_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class WarcOptions:
    """How the crawl's WARC files are written (the ``WARC_*`` settings)."""

    enabled: bool
    prefix: str
    max_size: int
    gzip_level: int
    fsync: bool


class LineFile:
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

    def abandon(self) -> None:
        """Stop writing and leave the file ``.open``, for recovery to close."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class CrawlFiles:
    """The open files of crawl ``crawl_id`` in ``storage``'s staging area and their writer thread.

    ``submit`` runs file work on the writer thread (``RuntimeError`` once it is shut down); each
    WARC file closed (rolled over or at the end) goes to ``on_warc_closed(path, records)``.
    """

    def __init__(
        self,
        storage: Storage,
        crawl_id: str,
        options: WarcOptions,
        *,
        warcinfo_settings: dict[str, str],
        worker_id: str | None,
        on_warc_closed: Callable[[Path, int], None],
        index_lines: bool = False,
    ) -> None:
        self.storage = storage
        self.crawl_id = crawl_id
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
        # The crawl's CDXJ lines, made on the writer thread as records are written. Gzipped WARCs
        # only: in a plain one a reader counts the blank lines after a record into its length.
        self.index_lines = (
            CrawlIndexLines(lambda name: warc_key(crawl_id, name))
            if index_lines and options.gzip_level
            else None
        )
        self.warc = RollingWarcWriter(
            storage.staging_path(warc_key(crawl_id, "x")).parent,
            namer=WarcFileNamer(
                options.prefix,
                hostname=socket.gethostname() + (f"-{worker_id}" if worker_id else ""),
            ),
            warcinfo_fields=self._warcinfo_fields(warcinfo_settings),
            max_size=options.max_size,
            gzip_level=options.gzip_level,
            fsync=options.fsync,
            on_close=on_warc_closed,
            on_record=self.index_lines.add if self.index_lines is not None else None,
        )
        self.text = LineFile(storage.staging_path(text_key(crawl_id)))
        self.events = LineFile(storage.staging_path(events_key(crawl_id)))
        self.journal = LineFile(storage.staging_path(ledger_key(crawl_id)))
        self._log_handler: logging.FileHandler | None = None

    def _warcinfo_fields(self, warcinfo_settings: dict[str, str]) -> dict[str, str]:
        return {
            "software": product("scrapy", "warcio"),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
            "isPartOf": self.crawl_id,
            **{k: v for k, v in warcinfo_settings.items() if v},
        }

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.executor.submit(fn, *args)

    def finish_writes(self) -> None:
        """Wait for the writes submitted so far; later submits are refused."""
        self.executor.shutdown(wait=True)

    def start_log(self, level: str | int) -> None:
        """The process's log from now on (and what waited in a buffer) as ``crawl.log``."""
        final = self.storage.staging_path(log_key(self.crawl_id))
        final.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(final.with_name(final.name + OPEN_SUFFIX), encoding="utf-8")
        handler.setLevel(level)
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

    def _stop_log(self) -> Path | None:
        handler, self._log_handler = self._log_handler, None
        if handler is None:
            return None
        logging.getLogger().removeHandler(handler)
        handler.close()
        return Path(handler.baseFilename)

    def close(self) -> list[tuple[str, Path]]:
        """Close every file (after ``finish_writes``); returns the store key and path of each
        closed JSON Lines file and the log. Closed WARCs went to ``on_warc_closed``."""
        self.warc.close()
        closed = []
        for line_file, key in (
            (self.text, text_key),
            (self.events, events_key),
            (self.journal, ledger_key),
        ):
            if (path := line_file.close()) is not None:
                closed.append((key(self.crawl_id), path))
        if (log := self._stop_log()) is not None:
            final = log.with_name(log.name.removesuffix(OPEN_SUFFIX))
            log.replace(final)
            closed.append((log_key(self.crawl_id), final))
        return closed

    def abandon(self) -> None:
        """Stop without closing: the writes in progress finish and the files stay ``.open``, for
        recovery to close."""
        self.finish_writes()
        if self.index_lines is not None:
            self.index_lines.discard()
        self.warc.abandon()
        for line_file in (self.text, self.events, self.journal):
            line_file.abandon()
        self._stop_log()


class CrawlUploads:
    """The crawl's closed files handed to ``publisher``, and what became of each.

    ``drain`` waits up to ``timeout`` seconds (timed by ``monotonic``), which ``hurry`` shortens
    even while a drain is waiting.
    """

    def __init__(
        self, publisher: Publisher, timeout: float, monotonic: Callable[[], float]
    ) -> None:
        self.publisher = publisher
        self.timeout = timeout
        self.monotonic = monotonic
        self._pending: list[tuple[str, Path, int | None, Future[StoredObject]]] = []

    def publish(self, key: str, path: Path, records: int | None = None) -> None:
        """Hand a closed file to the publisher thread; its manifest entry is made at the end."""
        self._pending.append((key, path, records, self.publisher.submit(key, path, records)))

    def hurry(self) -> None:
        """The crawl is stopping: short waits, one attempt per upload."""
        self.timeout = min(self.timeout, STOP_PUBLISH_TIMEOUT)
        self.publisher.hurry()

    def drain(self) -> bool:
        """Wait for the uploads, up to ``timeout``; False when some are still going."""
        started = self.monotonic()
        while not self.publisher.drain(1.0):
            if self.monotonic() - started >= self.timeout:
                return False
        return True

    @staticmethod
    def _published(future: Future[StoredObject]) -> bool:
        return future.done() and not future.cancelled() and future.exception() is None

    def stored_bytes(self) -> int:
        """Bytes the store has received so far for this crawl's files."""
        return sum(f.result().size for *_, f in self._pending if self._published(f))

    def entries(self) -> tuple[list[ManifestEntry], list[str]]:
        """The manifest's entries, sorted by key, and the keys of the files not published (their
        entries describe the spooled file)."""
        entries = []
        unpublished = []
        for key, path, records, future in self._pending:
            if self._published(future):
                stored = future.result()
            else:
                unpublished.append(key)
                stored = StoredObject(key, path.stat().st_size, sha256_file(path))
            entries.append(ManifestEntry.from_stored(stored, records))
        return sorted(entries, key=lambda e: e.key), unpublished
