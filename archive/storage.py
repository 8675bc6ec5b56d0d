"""Object storage behind one small interface, chosen by URI scheme.

:class:`Storage` is what every store does; :class:`StorageCapabilities` is what a store may add
(a reachability check, a spool, a local folder), read through :func:`capabilities`. The scheme table
:data:`DEFAULT_STORAGES` (``file://`` and plain paths: :class:`FileStorage`; ``s3://``) is the default
of the ``ARCHIVE_STORAGES_BASE`` setting; :func:`storage_table` lays ``ARCHIVE_STORAGES`` over it
and :func:`open_storage` picks a class by scheme. A new backend is one module and one entry.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from archive.atomic_file import atomic_write, write_atomic

# URI scheme -> storage class (dotted path, imported when used); "" is a plain path.
DEFAULT_STORAGES: dict[str, str] = {
    "": "archive.storage.FileStorage",
    "file": "archive.storage.FileStorage",
    "s3": "archive.s3.S3Storage",
}

# Suffixes of files that are not (yet) objects: being written, or being copied into place.
UNFINISHED_SUFFIXES = (".open", ".part")


class StorageError(Exception):
    """A store could not be opened or an object could not be read or written."""


class StoreUnavailable(StorageError):
    """The store could not be reached or answered with a server error: trying later may work."""


class PublishConflict(StorageError):
    """A different object already exists under the key; it is never overwritten."""


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


@runtime_checkable
class StorageCapabilities(Protocol):
    """What a store may tell or do beyond :class:`Storage`; a store declares it by having all of
    it. :func:`capabilities` answers for any store, with neutral defaults for one that does not."""

    @property
    def needs_read_back_verification(self) -> bool:
        """Whether finished files are read back and checked before publishing: a store that copies
        them elsewhere (False for a local folder, where files are published where they were built)."""

    @property
    def spool(self) -> Path | None:
        """The local folder where files wait to be uploaded; None when published in place."""

    @property
    def local_root(self) -> Path | None:
        """The store's own folder when it is on this machine (state caches go beside it)."""

    def check(self, write: bool = False) -> None:
        """Raise :class:`StorageError` (one line) unless the store can be read (or written)."""

    def abort_stale_uploads(self, keys: Iterable[str]) -> int:
        """Abort incomplete uploads of ``keys`` a killed run left; how many were aborted."""


class _NoCapabilities:
    """The answers for a store that declares no :class:`StorageCapabilities`: a remote one."""

    needs_read_back_verification = True
    spool: Path | None = None
    local_root: Path | None = None

    def check(self, write: bool = False) -> None:
        return None

    def abort_stale_uploads(self, keys: Iterable[str]) -> int:
        return 0


def capabilities(storage: object) -> StorageCapabilities:
    """``storage``'s optional capabilities, or neutral defaults when it declares none."""
    if isinstance(storage, StorageCapabilities):
        return storage
    return _NoCapabilities()


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

    # Files are built in place and published by rename: nothing is copied, nothing waits.
    needs_read_back_verification = False
    spool: Path | None = None

    @property
    def local_root(self) -> Path:
        return self.root

    def abort_stale_uploads(self, keys: Iterable[str]) -> int:
        return 0

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
            with open(path, "rb") as source, atomic_write(target) as fh:
                shutil.copyfileobj(source, fh, 1024 * 1024)
        return StoredObject(key, target.stat().st_size, sha256_file(target))

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
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


def _scheme_mapping(value: Any, name: str) -> dict[str, str | type]:
    # Given on the command line (-s ARCHIVE_STORAGES='{"gs": "..."}'), a table arrives as JSON text.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise StorageError(f"{name} must be a JSON object of scheme: class") from None
    try:
        return dict(value)
    except (TypeError, ValueError):
        raise StorageError(f"{name} must map URI schemes to storage classes") from None


def storage_table(
    settings: Mapping[str, Any] | None = None,
    extra: Mapping[str, str | type] | None = None,
) -> dict[str, str | type]:
    """URI scheme -> storage class: ``ARCHIVE_STORAGES_BASE`` (:data:`DEFAULT_STORAGES` when
    unset), then ``ARCHIVE_STORAGES`` from ``settings``, then ``extra`` over both."""
    settings = settings or {}
    base = settings.get("ARCHIVE_STORAGES_BASE")
    table = DEFAULT_STORAGES if base is None else _scheme_mapping(base, "ARCHIVE_STORAGES_BASE")
    return {
        **table,
        **_scheme_mapping(settings.get("ARCHIVE_STORAGES") or {}, "ARCHIVE_STORAGES"),
        **(extra or {}),
    }


def open_storage(
    uri: str,
    storages: Mapping[str, str | type] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Storage:
    """The storage for ``uri``, picked by its scheme from :func:`storage_table` (``settings``'
    tables, with ``storages`` over them).

    A storage class with a ``from_settings(uri, settings)`` constructor is built from ``settings``
    when they are given (S3 reads its endpoint, region and spool from them).
    """
    table = storage_table(settings, storages)
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
