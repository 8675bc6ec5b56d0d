"""Object storage behind one small interface, chosen by URI scheme.

``file://`` URIs and plain paths are served by :class:`FileStorage`; other schemes are looked up in
the mapping passed to :func:`open_storage` (the ``ARCHIVE_STORAGES`` setting on the crawler side).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

DEFAULT_STORAGES: dict[str, str] = {
    "": "archive.storage.FileStorage",
    "file": "archive.storage.FileStorage",
    "s3": "archive.s3.S3Storage",
}

# Suffixes of files that are not (yet) objects: being written, or being copied into place.
UNFINISHED_SUFFIXES = (".open", ".part")


class StorageError(Exception):
    """A store could not be opened or an object could not be read or written."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object in a store: its key, size and (when computed) SHA-256."""

    key: str
    size: int
    sha256: str | None = None


class Storage(Protocol):
    """Where archives live. Keys are relative POSIX paths (``crawls/<id>/warc/x.warc.gz``)."""

    uri: str

    def staging_path(self, key: str) -> Path:
        """A local path where a writer should build the file that will become ``key``."""

    def put_file(self, key: str, path: Path) -> StoredObject:
        """Publish a finished local file under ``key`` (never half-visible) and describe it."""

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Publish ``data`` under ``key`` atomically."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object."""

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the object starting at ``offset``."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is published."""

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Publish ``data`` under ``key`` only if nothing is there; False when something is."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (for locks and staging only: archived objects are never deleted)."""

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Published objects whose key starts with ``prefix``, in key order."""

    def unfinished(self, prefix: str = "") -> Iterator[Path]:
        """Local files under ``prefix`` still being written, or left behind by a killed process."""

    def pending(self, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """Finished local files under ``prefix`` waiting to be published, with their keys."""


def validate_key(key: str) -> str:
    """Reject keys that could leave the store: absolute paths, ``..``, backslashes, NULs."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise StorageError(f"invalid object key: {key!r}")
    if any(part in ("..", ".", "") for part in key.split("/")):
        raise StorageError(f"invalid object key: {key!r}")
    return key


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStorage:
    """A store in a local folder. Files are built in place and made visible by rename."""

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise StorageError(f"file:// URIs must be local, got host {parts.netloc!r}")
            path = unquote(parts.path)
        else:
            path = uri
        self.root = Path(path).expanduser().resolve()
        self.uri = self.root.as_uri()

    def __repr__(self) -> str:
        return f"FileStorage({self.uri!r})"

    def check(self, write: bool = False) -> None:
        """Raise StorageError (one line) unless the store's folder can be read (a missing one is
        an empty store) or, with ``write``, created and written to."""
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"the store {self.root} is not a folder")
        try:
            if write:
                self.root.mkdir(parents=True, exist_ok=True)
                probe = self.root / f".write-check-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
            elif self.root.is_dir():
                with os.scandir(self.root) as entries:
                    next(entries, None)
        except OSError as exc:
            raise StorageError(
                f"the store {self.root} cannot be used: {exc.strerror or exc}"
            ) from None

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"object key escapes the store: {key!r}")
        return path

    def staging_path(self, key: str) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def put_file(self, key: str, path: Path) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(path).resolve() != target:
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(path, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        return StoredObject(key, target.stat().st_size, sha256_file(target))

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    def create_exclusive(self, key: str, data: bytes) -> bool:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no such object: {key}") from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError("negative byte range")
        with self.open(key) as fh:
            fh.seek(offset)
            return fh.read(length)

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except StorageError:
            return False

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and not key.endswith(UNFINISHED_SUFFIXES):
                yield StoredObject(key, path.stat().st_size)

    def pending(self, prefix: str = "") -> Iterator[tuple[str, Path]]:
        # Files are built in place and published by rename: nothing ever waits.
        return iter(())

    def unfinished(self, prefix: str = "") -> Iterator[Path]:
        base = self.root / prefix if prefix else self.root
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file() and path.name.endswith(UNFINISHED_SUFFIXES):
                    yield path


def load_object(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def open_storage(
    uri: str,
    storages: Mapping[str, str | type] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Storage:
    """The storage for ``uri``, picked by its scheme from ``storages`` (default: local files).

    A storage class with a ``from_settings(uri, settings)`` constructor is built from ``settings``
    when they are given (S3 reads its endpoint, region and spool from them).
    """
    table = {**DEFAULT_STORAGES, **(storages or {})}
    scheme = urlsplit(uri).scheme
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    cls = table.get(scheme)
    if cls is None:
        known = ", ".join(sorted(f"{s}://" for s in table if s))
        raise StorageError(f"no storage for {scheme}:// URIs (known: {known}, or a plain path)")
    if isinstance(cls, str):
        cls = load_object(cls)
    from_settings = getattr(cls, "from_settings", None)
    if settings is not None and from_settings is not None:
        return from_settings(uri, settings)
    return cls(uri)
