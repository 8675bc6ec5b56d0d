"""Publishing finished files to a store: check each one, upload it, retry what may pass, commit last.

:class:`Publisher` works on a background thread with bounded retries (``ARCHIVE_PUBLISH_RETRIES``,
``ARCHIVE_PUBLISH_BACKOFF``), so a slow or dead store never stalls a crawl; :func:`publish_spool`
uploads what earlier runs left in the spool (``lifegate-archive publish``), each crawl's manifest last.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from archive.crawl import CRAWLS_PREFIX, CrawlManifest
from archive.gzip_members import scan_members
from archive.storage import (
    UNFINISHED_SUFFIXES,
    FileStorage,
    Storage,
    StorageError,
    StoredObject,
    StoreUnavailable,
    capabilities,
)
from archive.verify import check_warc

logger = logging.getLogger(__name__)
T = TypeVar("T")
MANIFEST_NAME = "manifest.json"


class VerificationError(StorageError):
    """A finished file failed its checks before upload; it is kept where it is, never published."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failure that may pass (store unreachable, 5xx) is retried."""

    attempts: int = 5  # in all, the first one included
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_backoff: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter (half fixed, half random), so retries do not align."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed: the store was unreachable or failed on its side."""
    return isinstance(exc, (StoreUnavailable, ConnectionError, TimeoutError))


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    *,
    attempts: int | None = None,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> T:
    """``call()``, retried on transient failures up to ``attempts`` (default: the policy's)."""
    attempts = attempts or policy.attempts
    rng = rng or random.Random()
    stop = stop or threading.Event()
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or attempt >= attempts or stop.is_set():
                raise
            delay = policy.delay(attempt, rng)
            logger.warning(
                "%s failed (%s); retry %d of %d in %.1f s", what, exc, attempt, attempts - 1, delay
            )
            if stop.wait(delay):
                raise
        attempt += 1


def verify_file(key: str, path: Path, records: int | None = None) -> int | None:
    """Check a finished file before it is published; returns a WARC's record count.

    WARCs: every gzip member complete, warcinfo first, block and payload digests, and ``records``
    when given (``gzip -t`` plus ``warcio check`` plus a count: reliability.md C.5); other gzip
    files: complete members; JSON and JSON Lines: every line parses.
    """
    path = Path(path)
    if path.name.endswith(UNFINISHED_SUFFIXES):
        raise VerificationError(f"{key}: {path.name} is still being written")
    size = path.stat().st_size
    if key.endswith((".warc.gz", ".warc")):
        count, problems = check_warc(FileStorage(str(path.parent)), path.name, size)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise VerificationError(f"{key}: {problems[0]}{more}")
        if records is not None and count != records:
            raise VerificationError(f"{key}: {count} records, the writer counted {records}")
        return count
    if key.endswith(".gz"):
        with open(path, "rb") as fh:
            scan = scan_members(fh, size)
        if not scan.complete:
            raise VerificationError(
                f"{key}: {scan.error or 'trailing bytes after the last member'}"
            )
    elif key.endswith((".json", ".jsonl")):
        with open(path, "rb") as fh:
            lines = [fh.read()] if key.endswith(".json") else fh
            for number, line in enumerate(lines, 1):
                try:
                    json.loads(line)
                except ValueError:
                    raise VerificationError(f"{key}: line {number} is not JSON") from None
    return None


def publish_file(
    storage: Storage, key: str, path: Path, *, records: int | None = None, verify: bool = True
) -> StoredObject:
    """Check ``path`` (see :func:`verify_file`), then publish it under ``key``."""
    if verify and Path(path).is_file():
        verify_file(key, path, records)
    return storage.put_file(key, Path(path))


class Publisher:
    """Publishes finished files on one background thread, in submission order.

    ``submit(key, path)`` returns at once with a ``Future`` of the :class:`StoredObject`. Transient
    failures are retried with exponential backoff and jitter (``policy``); once a file has used up
    its retries because the store is unreachable, later files get one attempt each until one
    succeeds, so a dead store costs one backoff cycle, not one per file. A file that is not
    published stays where it is (the spool) for ``lifegate-archive publish``; its future holds the
    error, and ``failed`` lists it. ``drain(timeout)`` waits for everything submitted;
    ``close(timeout)`` drains, then cancels what is left and stops the thread.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        policy: RetryPolicy | None = None,
        verify: bool = True,
        name: str = "archive-publisher",
    ) -> None:
        self.storage = storage
        self.policy = policy or RetryPolicy()
        self.verify = verify
        self.name = name
        self.published: list[StoredObject] = []
        self.failed: dict[str, BaseException] = {}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._state = threading.Condition()
        self._outstanding = 0
        self._closed = False
        self._stop = threading.Event()
        self._store_down = False
        self._rng = random.Random()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Publisher:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def submit(self, key: str, path: Path, records: int | None = None) -> Future[StoredObject]:
        """Queue ``path`` to be checked and published as ``key``."""
        future: Future[StoredObject] = Future()
        with self._state:
            if self._closed:
                raise RuntimeError("the publisher is closed")
            self._outstanding += 1
            if self._thread is None:
                # A daemon: an interpreter exiting mid-upload leaves the file spooled, not a hang.
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._jobs.put((key, Path(path), records, future))
        return future

    def hurry(self) -> None:
        """The caller is stopping: from now on each file gets one attempt, no retry backoff."""
        self._store_down = True

    @property
    def outstanding(self) -> int:
        with self._state:
            return self._outstanding

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted file is published or has failed; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: self._outstanding == 0, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Drain (up to ``timeout``), then cancel what is left; True if everything was published."""
        drained = self.drain(timeout)
        with self._state:
            self._closed = True
        self._stop.set()
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._finish(job[3], cancel=True)
        if self._thread is not None:
            self._jobs.put(None)
            # An upload in flight cannot be interrupted; the thread is a daemon, and an unfinished
            # multipart upload is aborted by the next publish (its id is kept in the spool).
            self._thread.join(timeout=0 if not drained else None)
        with self._state:
            return drained and self._outstanding == 0 and not self.failed

    def _finish(self, future: Future, *, cancel: bool = False) -> None:
        if cancel:
            future.cancel()
        with self._state:
            self._outstanding -= 1
            self._state.notify_all()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            key, path, records, future = job
            if self._stop.is_set():
                self._finish(future, cancel=True)
                continue
            if not future.set_running_or_notify_cancel():
                self._finish(future)
                continue
            try:
                stored = call_with_retries(
                    partial(
                        publish_file, self.storage, key, path, records=records, verify=self.verify
                    ),
                    self.policy,
                    f"publishing {key}",
                    attempts=1 if self._store_down else None,
                    stop=self._stop,
                    rng=self._rng,
                )
            except Exception as exc:  # noqa: BLE001 (every failure goes to the caller's future)
                self._store_down = self._store_down or is_transient(exc)
                logger.error("Not published (kept in %s): %s", path.parent, exc)
                with self._state:
                    self.failed[key] = exc
                future.set_exception(exc)
            else:
                self._store_down = False
                with self._state:
                    self.published.append(stored)
                future.set_result(stored)
            self._finish(future)


@dataclass(slots=True)
class SpoolReport:
    """What :func:`publish_spool` did: published, failed, manifests held back, files still open."""

    published: list[StoredObject] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[Path] = field(default_factory=list)
    aborted_uploads: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.held


def is_manifest(key: str) -> bool:
    parts = key.split("/")
    return key.startswith(CRAWLS_PREFIX) and len(parts) == 3 and parts[2] == MANIFEST_NAME


def _manifest_blocker(storage: Storage, key: str, path: Path) -> str | None:
    """Why a crawl's spooled manifest cannot be published (committing the crawl) yet, or None."""
    prefix = key[: -len(MANIFEST_NAME)]
    waiting = [p for p in storage.unfinished(prefix) if p.resolve() != Path(path).resolve()]
    if waiting:
        return f"{len(waiting)} files of the crawl are not published yet (first: {waiting[0].name})"
    try:
        manifest = CrawlManifest.from_json(Path(path).read_bytes())
    except (OSError, ValueError, TypeError, StorageError) as exc:
        return f"unreadable manifest: {exc}"
    present = {obj.key: obj.size for obj in storage.list(prefix)}
    for entry in manifest.objects:
        if entry.key not in present:
            return f"{entry.key}, listed in the manifest, is not in the store"
        if present[entry.key] != entry.size:
            return f"{entry.key} is {present[entry.key]} bytes in the store, the manifest says {entry.size}"
    return None


def publish_spool(
    storage: Storage,
    *,
    policy: RetryPolicy | None = None,
    verify: bool = True,
    prefix: str = "",
    progress: Callable[[str], None] | None = None,
) -> SpoolReport:
    """Publish every finished file the spool holds, then each crawl manifest whose files are all in.

    Stale multipart uploads of those files (a killed run's) are aborted first. Files still
    ``.open`` are left to crawl recovery and reported; nothing is deleted that is not published.
    ``prefix`` limits it to one crawl (``crawls/<id>/``), as recovery needs.
    """
    policy = policy or RetryPolicy()
    say = progress or (lambda line: None)
    report = SpoolReport()
    pending = list(storage.pending(prefix))
    report.unfinished = [
        p for p in storage.unfinished(prefix) if p.name.endswith(UNFINISHED_SUFFIXES)
    ]
    if pending:
        report.aborted_uploads = capabilities(storage).abort_stale_uploads(k for k, _ in pending)
        if report.aborted_uploads:
            say(
                f"aborted {report.aborted_uploads} incomplete multipart uploads left by a killed run"
            )
    files = [(k, p) for k, p in pending if not is_manifest(k)]
    manifests = [(k, p) for k, p in pending if is_manifest(k)]

    def publish(key: str, path: Path) -> StoredObject | None:
        try:
            stored = call_with_retries(
                partial(publish_file, storage, key, path, verify=verify),
                policy,
                f"publishing {key}",
            )
        except (StorageError, OSError) as exc:
            report.failed.append((key, str(exc)))
            say(f"NOT published {key}: {exc}")
            return None
        report.published.append(stored)
        return stored

    for number, (key, path) in enumerate(files, 1):
        if (stored := publish(key, path)) is not None:
            say(f"[{number}/{len(files)}] published {key} ({stored.size / 1e6:.1f} MB)")
    # Manifests last, each only when every file it lists is in the store: they commit their crawls.
    for key, path in manifests:
        if (reason := _manifest_blocker(storage, key, path)) is not None:
            report.held.append((key, reason))
            say(f"held back {key}: {reason}")
        elif publish(key, path) is not None:
            say(f"committed {key.split('/')[1]} (manifest published)")
    return report
