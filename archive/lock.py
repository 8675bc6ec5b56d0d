"""One run at a time on a store: a lock object with the holder's identity and a heartbeat.

A lock whose holder is gone (its process no longer exists on this host, or its heartbeat stopped
longer ago than ``stale_after``) is taken over, with a warning, so a killed run never blocks the
schedule.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from archive.storage import Storage, StorageError

logger = logging.getLogger(__name__)

LOCK_KEY = "locks/crawl.lock"


class LockHeld(Exception):
    """Another live run holds the store."""


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds the lock, and their last sign of life."""

    run_id: str
    host: str
    pid: int
    acquired: str
    heartbeat: str

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {self.acquired}, alive at {self.heartbeat})"


def _now() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLock:
    """The store-wide crawl lock. ``acquire`` raises :class:`LockHeld` with a readable message.

    ``clock`` (aware UTC datetimes) times the heartbeats and judges their age. ``heartbeat`` may
    run on another thread than ``release`` (its storage calls are blocking): a release waits for a
    heartbeat in progress, and a heartbeat after the release writes nothing, so a released lock is
    never written back.
    """

    def __init__(
        self,
        storage: Storage,
        run_id: str,
        *,
        stale_after: timedelta = timedelta(minutes=30),
        clock: Callable[[], datetime] = _now,
    ):
        self.storage = storage
        self.run_id = run_id
        self.stale_after = stale_after
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.acquired = clock().isoformat()
        self.held = False
        self._guard = threading.Lock()

    def _info(self) -> LockInfo:
        return LockInfo(self.run_id, self.host, self.pid, self.acquired, self.clock().isoformat())

    def _encode(self) -> bytes:
        return json.dumps(asdict(self._info()), indent=2).encode()

    def current(self) -> LockInfo | None:
        try:
            with self.storage.open(LOCK_KEY) as fh:
                return LockInfo(**json.loads(fh.read()))
        except StorageError:
            return None
        except (ValueError, TypeError):
            # A torn or foreign lock file: treat it as held by nobody we can check.
            return LockInfo("unknown", "unknown", 0, "", "")

    def stale(self, info: LockInfo) -> bool:
        if info.host == self.host and info.pid and not _pid_alive(info.pid):
            return True
        try:
            beat = datetime.fromisoformat(info.heartbeat)
        except ValueError:
            return True
        return self.clock() - beat > self.stale_after

    def acquire(self, *, join: bool = False) -> None:
        """Take the lock; with ``join``, a lock held by the same run id (another worker of one
        distributed run) is shared instead of refused."""
        for _ in range(3):
            if self.storage.create_exclusive(LOCK_KEY, self._encode()):
                self.held = True
                return
            info = self.current()
            if info is None:
                continue  # released between our two looks
            if join and info.run_id == self.run_id and not self.stale(info):
                self.held = True  # heartbeats keep it alive while any worker runs
                return
            if not self.stale(info):
                raise LockHeld(f"the store {self.storage.uri} is in use by {info.describe()}")
            logger.warning("Taking over a stale lock from %s", info.describe())
            self.storage.delete(LOCK_KEY)
        raise LockHeld(f"could not take the lock of {self.storage.uri}")

    def heartbeat(self) -> bool:
        """Renew the sign of life; False once another run has taken the lock over.

        A run that stalled past ``stale_after`` may find its lock taken over; writing its heartbeat
        then would overwrite the new holder's lock and let a third run in, so it stops instead."""
        with self._guard:
            return self._renew()

    def _renew(self) -> bool:
        if not self.held:
            return False
        info = self.current()
        if info is not None and info.run_id != self.run_id:
            logger.error(
                "The store lock was taken over by %s (this run's heartbeat stalled longer than %s);"
                " this run no longer renews it",
                info.describe(),
                self.stale_after,
            )
            self.held = False
            return False
        self.storage.put_bytes(LOCK_KEY, self._encode())
        return True

    def release(self) -> None:
        with self._guard:
            if self.held:
                info = self.current()
                if info is not None and info.run_id == self.run_id:
                    self.storage.delete(LOCK_KEY)
                self.held = False
