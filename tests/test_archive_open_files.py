"""Byte ranges read through kept-open files answer exactly as the store's own read_range."""

from __future__ import annotations

import io
import random
import threading

from archive.open_files import OpenFiles
from archive.storage import FileStorage


def _store(tmp_path, files: int) -> tuple[FileStorage, dict[str, bytes]]:
    storage = FileStorage(str(tmp_path / "store"))
    rng = random.Random(5)
    contents = {}
    for n in range(files):
        key = f"crawls/c/warc/f{n}.warc.gz"
        contents[key] = rng.randbytes(20_000 + n)
        storage.put_bytes(key, contents[key])
    return storage, contents


def test_ranges_match_the_store_across_evictions_and_threads(tmp_path):
    storage, contents = _store(tmp_path, 5)
    files = OpenFiles(storage, size=2)  # fewer handles than files: they are pushed out and reopened
    errors: list[str] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            key = rng.choice(sorted(contents))
            offset = rng.randrange(len(contents[key]) + 10)  # some ranges run past the end
            length = rng.randrange(4000)
            got = files.read_range(key, offset, length)
            if got != storage.read_range(key, offset, length):
                errors.append(f"{key}@{offset}+{length}")

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(files._open) <= 2
    kept = [handle.file for handle in files._open.values()]
    files.close()
    assert kept and all(file.closed for file in kept)


class _StreamStore:
    """A store whose objects are streams without a file descriptor, like an object store's."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges = 0

    def open(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.data)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        self.ranges += 1
        return self.data[offset : offset + length]


def test_a_store_without_local_files_is_read_with_its_own_ranges():
    store = _StreamStore(b"0123456789")
    files = OpenFiles(store)  # type: ignore[arg-type]
    assert files.read_range("k", 2, 3) == b"234"
    assert files.read_range("k", 8, 5) == b"89"
    assert store.ranges == 2 and not files._open
