"""Byte ranges of store objects read through files kept open: a bounded, thread-safe LRU of
handles, so a server that reads one record per request neither opens nor resolves a path each
time (the replay server's reads; WARC files never change once published)."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from typing import BinaryIO

from archive.storage import Storage, StorageError

OPEN_FILES = 64  # a crawl writes WARC files of up to 1 GB: 64 covers a large archive's hot set


class _Handle:
    __slots__ = ("evicted", "file", "users")

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.users = 0
        self.evicted = False


class OpenFiles:
    """``read_range`` as ``storage.read_range`` answers it, through at most ``size`` open files.

    Reads use ``os.pread`` (no shared file position, so no lock while reading); a handle pushed
    out of the LRU is closed once the last read through it ends, never under a reader. A store
    whose objects are not local files (object stores) is read with its own ``read_range``.
    """

    def __init__(self, storage: Storage, size: int = OPEN_FILES) -> None:
        if size < 1:
            raise ValueError("OpenFiles needs room for one file at least")
        self.storage = storage
        self.size = size
        self._open: OrderedDict[str, _Handle] = OrderedDict()
        self._lock = threading.Lock()
        self._local = True  # until the store gives a stream without a file descriptor

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError("negative byte range")
        handle = self._acquire(key) if self._local else None
        if handle is None:
            return self.storage.read_range(key, offset, length)
        try:
            fd = handle.file.fileno()
            chunks, got = [], 0
            while got < length:  # pread returns less only at the end of the file
                chunk = os.pread(fd, length - got, offset + got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc
        finally:
            self._release(handle)

    def _acquire(self, key: str) -> _Handle | None:
        with self._lock:
            handle = self._open.get(key)
            if handle is not None:
                self._open.move_to_end(key)
                handle.users += 1
                return handle
        file = self.storage.open(key)  # outside the lock: opening may be slow
        try:
            file.fileno()
        except (OSError, AttributeError, io.UnsupportedOperation):
            file.close()
            self._local = False
            return None
        with self._lock:
            handle = self._open.get(key)
            if handle is None:  # no other thread opened it meanwhile
                handle = self._open[key] = _Handle(file)
                while len(self._open) > self.size:
                    _, old = self._open.popitem(last=False)
                    old.evicted = True
                    if not old.users:
                        old.file.close()
            else:
                file.close()
                self._open.move_to_end(key)
            handle.users += 1
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            if handle.evicted and not handle.users:
                handle.file.close()

    def close(self) -> None:
        with self._lock:
            for handle in self._open.values():
                handle.evicted = True
                if not handle.users:
                    handle.file.close()
            self._open.clear()
