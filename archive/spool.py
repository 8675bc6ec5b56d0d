"""The local spool of a remote store: files are built here, then uploaded when finished.

A spool mirrors the store's keys in a local folder. Beside a spooled file, small JSON state files
say what happened to it: ``<name>.published`` (it is in the store, with its size and SHA-256; kept
only when the spooled copy is kept) and ``<name>.upload`` (a multipart upload in progress, so a
later run can abort it). Any remote backend can use it: :class:`Spool` knows nothing of S3.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archive.atomic_file import write_atomic
from archive.storage import UNFINISHED_SUFFIXES, StorageError, StoredObject, validate_key

SPOOL_FOLDER = "lifegate-archive-spool"
PUBLISHED_SUFFIX = ".published"  # beside a spooled file: it is in the store (JSON: size, sha256)
UPLOAD_SUFFIX = ".upload"  # beside a spooled file: the multipart upload in progress (JSON: id)
_STATE_SUFFIXES = (PUBLISHED_SUFFIX, UPLOAD_SUFFIX)
_STATE_FILES = (*_STATE_SUFFIXES, *(suffix + ".part" for suffix in _STATE_SUFFIXES))


def default_spool_root() -> Path:
    """``$XDG_CACHE_HOME/lifegate-archive-spool`` (``~/.cache/...`` when unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache) / SPOOL_FOLDER


@contextmanager
def exclusive(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading under an exclusive lock, so one process publishes it at a time."""
    fh = open(path, "rb")  # noqa: SIM115 (closed below; closing releases the lock)
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(f"{path} is being published by another process") from None
        yield fh
    finally:
        fh.close()


def _write_json(path: Path, value: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(value, sort_keys=True).encode())


class Spool:
    """A store's spool folder: where its files are built, and what became of each.

    ``keep``: published files stay in the spool (with a ``.published`` record) instead of being
    removed once the store has them.
    """

    def __init__(self, root: Path, *, keep: bool = False) -> None:
        self.root = Path(root).expanduser().resolve()
        self.keep = keep

    @classmethod
    def for_store(cls, spool_dir: str | Path | None, name: str, *, keep: bool = False) -> Spool:
        """The spool of the store ``name`` (e.g. ``bucket/prefix``) under ``spool_dir``
        (default: :func:`default_spool_root`), so stores never share files."""
        base = Path(spool_dir).expanduser() if spool_dir else default_spool_root()
        return cls(base / name, keep=keep)

    def __repr__(self) -> str:
        return f"Spool({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where ``key`` is spooled."""
        return self.root / validate_key(key)

    def staging_path(self, key: str) -> Path:
        """Where a writer builds ``key`` (its folder created)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def holds(self, key: str, path: Path) -> bool:
        """Whether ``path`` is ``key``'s spooled file (not a file from elsewhere)."""
        return Path(path).resolve() == self.path(key)

    def write(self, key: str, data: bytes) -> Path:
        """Spool ``data`` as ``key`` atomically (as not yet published); its path."""
        path = self.staging_path(key)
        path.with_name(path.name + PUBLISHED_SUFFIX).unlink(missing_ok=True)
        write_atomic(path, data)
        return path

    # --- what was published ----------------------------------------------------------------------

    def published(self, key: str) -> StoredObject | None:
        """What the spool records as published for ``key``, if the spooled file is still that one."""
        path = self.path(key)
        record = path.with_name(path.name + PUBLISHED_SUFFIX)
        try:
            data = json.loads(record.read_text())
            stored = StoredObject(key, int(data["size"]), data["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            stat = path.stat()
        except FileNotFoundError:
            return stored
        return (
            stored
            if (stat.st_size, stat.st_mtime_ns) == (stored.size, data.get("mtime_ns"))
            else None
        )

    def mark_published(self, key: str, stored: StoredObject, mtime_ns: int) -> None:
        """``key`` is in the store: record it beside the kept file, or remove the file."""
        path = self.path(key)
        if self.keep:
            published = {
                "key": key,
                "size": stored.size,
                "sha256": stored.sha256,
                "mtime_ns": mtime_ns,  # a file rewritten since is not this record's
                "published": datetime.now(UTC).isoformat(),
            }
            _write_json(path.with_name(path.name + PUBLISHED_SUFFIX), published)
        else:
            # No record needed: killed before this unlink, the next run's upload is refused by
            # If-None-Match and the object found identical, which marks it published all the same.
            path.unlink(missing_ok=True)

    def forget(self, key: str) -> None:
        """Drop a published file and its record (unless ``keep``)."""
        if self.keep:
            return
        path = self.path(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + PUBLISHED_SUFFIX).unlink(missing_ok=True)

    # --- uploads in progress ---------------------------------------------------------------------

    def _upload_state(self, key: str) -> Path:
        path = self.path(key)
        return path.with_name(path.name + UPLOAD_SUFFIX)

    def record_upload(self, key: str, upload_id: str) -> None:
        """Remember the multipart upload of ``key`` under way, for a later run to abort."""
        _write_json(self._upload_state(key), {"key": key, "upload_id": upload_id})

    def recorded_upload(self, key: str) -> str | None:
        """The id of the upload of ``key`` an earlier attempt left, if any."""
        try:
            return str(json.loads(self._upload_state(key).read_text())["upload_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear_upload(self, key: str) -> None:
        """The upload of ``key`` is finished or aborted."""
        self._upload_state(key).unlink(missing_ok=True)

    # --- what is waiting -------------------------------------------------------------------------

    def _files(self, prefix: str) -> Iterator[Path]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(_STATE_FILES):
                yield path

    def pending(self, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """Finished spooled files not yet in the store, with their keys, in key order."""
        for path in self._files(prefix):
            if path.name.endswith(UNFINISHED_SUFFIXES):
                continue
            key = path.relative_to(self.root).as_posix()
            if not path.with_name(path.name + PUBLISHED_SUFFIX).exists():
                yield key, path

    def unfinished(self, prefix: str = "") -> Iterator[Path]:
        """Spooled files still being written (``.open``) or not yet published."""
        for path in self._files(prefix):
            if (
                path.name.endswith(UNFINISHED_SUFFIXES)
                or not path.with_name(path.name + PUBLISHED_SUFFIX).exists()
            ):
                yield path
