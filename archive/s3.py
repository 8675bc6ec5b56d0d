"""Object storage in S3 or an S3-compatible store (MinIO, Ceph RGW, Cloudflare R2), built in a spool.

Files are written in a local spool and uploaded when finished: checksummed, never overwriting
(``If-None-Match: *``), confirmed with HEAD. :meth:`S3Storage.from_settings` maps Scrapy's ``AWS_*``
settings and ``ARCHIVE_SPOOL_*`` / ``ARCHIVE_S3_*``; boto3 is imported only when a store is used.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from archive.storage import UNFINISHED_SUFFIXES, StorageError, StoredObject, validate_key

logger = logging.getLogger(__name__)

SPOOL_FOLDER = "lifegate-archive-spool"
PUBLISHED_SUFFIX = ".published"  # beside a spooled file: it is in the store (JSON: size, sha256)
UPLOAD_SUFFIX = ".upload"  # beside a spooled file: the multipart upload in progress (JSON: id)
_STATE_SUFFIXES = (PUBLISHED_SUFFIX, UPLOAD_SUFFIX)
_STATE_FILES = (*_STATE_SUFFIXES, *(suffix + ".part" for suffix in _STATE_SUFFIXES))
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last (EntityTooSmall)
MAX_PARTS = 10_000
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")
_CONTENT_TYPES = {
    ".gz": "application/gzip",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
}
# Answers that may pass if asked again (S3 error responses; 409 is a conditional-write race).
_TRANSIENT_CODES = {
    "RequestTimeout", "Throttling", "ThrottlingException", "SlowDown", "RequestTimeTooSkewed",
    "ConditionalRequestConflict", "InternalError", "ServiceUnavailable",
}  # fmt: skip
_RESUMES = 3  # times a dropped download is resumed with a Range request


class StoreUnavailable(StorageError):
    """The store could not be reached or answered with a server error: trying later may work."""


class PublishConflict(StorageError):
    """A different object already exists under the key; it is never overwritten."""


class _Exists(Exception):
    """``If-None-Match: *`` refused a write: something is already under the key."""


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _bool(value: Any) -> bool | None:
    """A boolean setting given as a bool or as text (``-s AWS_USE_SSL=false``); None if unset."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def default_spool_root() -> Path:
    """``$XDG_CACHE_HOME/lifegate-archive-spool`` (``~/.cache/...`` when unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache) / SPOOL_FOLDER


@contextmanager
def _exclusive(path: Path) -> Iterator[BinaryIO]:
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
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w") as fh:
        json.dump(value, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class S3Storage:
    """A store in an S3 bucket under a key prefix (``s3://bucket/prefix``).

    Writers build files in a local spool (:meth:`staging_path`); :meth:`put_file` uploads one with a
    SHA-256 (or Content-MD5) checksum, multipart above ``multipart_threshold`` (aborted on
    failure), confirms it with HEAD, then records it as published and drops the spooled copy unless
    ``keep_spooled``. Archive data (keys under ``immutable_prefixes``) is written with
    ``If-None-Match: *``: an object already there with the same size and SHA-256 counts as published
    (re-runs never upload twice), a different one raises :class:`PublishConflict`. Derived objects
    (indexes, locks, state) are replaced, as in a folder store. Failures worth retrying raise
    :class:`StoreUnavailable`; the spooled file stays for a later ``lifegate-archive publish``.
    Credentials come from the parameters or boto3's default chain and never appear in messages.
    """

    def __init__(
        self,
        uri: str,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        use_ssl: bool | None = None,
        verify: bool | str | None = None,
        max_pool_connections: int | None = None,
        spool_dir: str | Path | None = None,
        keep_spooled: bool = False,
        multipart_threshold: int = 64 * 1024 * 1024,
        multipart_chunksize: int = 16 * 1024 * 1024,
        checksum: str = "sha256",
        max_attempts: int = 3,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        list_page_size: int = 1000,
        immutable_prefixes: tuple[str, ...] = ("crawls/",),
        client: Any = None,
    ) -> None:
        parts = urlsplit(uri)
        if parts.scheme != "s3":
            raise StorageError("S3 stores are named s3://bucket/prefix")
        if "@" in parts.netloc:
            # Never echo the URI: it holds a secret. Scrapy accepts this form; an archive must not.
            raise StorageError(
                "credentials in the store URI are not accepted: use AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (settings or environment)"
            )
        if not _BUCKET.match(parts.netloc):
            raise StorageError(f"not an S3 bucket name: {parts.netloc!r}")
        if parts.query or parts.fragment:
            raise StorageError("S3 store URIs take no query or fragment: s3://bucket/prefix")
        if checksum not in ("sha256", "md5"):
            raise StorageError(f"ARCHIVE_S3_CHECKSUM must be sha256 or md5, got {checksum!r}")
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = validate_key(prefix) + "/" if prefix else ""
        self.uri = f"s3://{self.bucket}/{prefix}".rstrip("/")
        root = Path(spool_dir).expanduser() if spool_dir else default_spool_root()
        self.spool = (root / self.bucket / prefix).resolve()
        self.keep_spooled = keep_spooled
        self.multipart_threshold = max(int(multipart_threshold), 1)
        self.multipart_chunksize = max(int(multipart_chunksize), MIN_PART_SIZE)
        self.checksum = checksum
        self.list_page_size = list_page_size
        self.immutable_prefixes = tuple(immutable_prefixes)
        # botocore reads AWS_ENDPOINT_URL(_S3) itself; it is looked up here too, to know whether
        # the store is AWS (checksum defaults, addressing style).
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        self._client_options = {
            "endpoint_url": self.endpoint_url,
            "region_name": region_name,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": session_token,
            "use_ssl": use_ssl,
            "verify": verify,
        }
        self._config_options = {
            # Tries per request, the first included (botocore's own "max_attempts" counts retries).
            "retries": {"total_max_attempts": max_attempts, "mode": "standard"},
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_pool_connections": max_pool_connections or 10,
        }
        self._s3 = client
        self._lock = threading.Lock()
        self._warned_no_checksum = False

    @classmethod
    def from_settings(cls, uri: str, settings: Mapping[str, Any], **overrides: Any) -> S3Storage:
        """A store configured from Scrapy-style settings (any mapping with ``get``).

        Reads ``AWS_ENDPOINT_URL``, ``AWS_REGION_NAME``, ``AWS_ACCESS_KEY_ID``,
        ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_USE_SSL``, ``AWS_VERIFY``,
        ``AWS_MAX_POOL_CONNECTIONS``, ``ARCHIVE_SPOOL_DIR``, ``ARCHIVE_SPOOL_KEEP``,
        ``ARCHIVE_S3_MULTIPART_THRESHOLD``, ``ARCHIVE_S3_MULTIPART_CHUNKSIZE``,
        ``ARCHIVE_S3_CHECKSUM``; unset ones keep the constructor's defaults.
        """
        names: dict[str, tuple[str, Callable[[Any], Any]]] = {
            "endpoint_url": ("AWS_ENDPOINT_URL", str),
            "region_name": ("AWS_REGION_NAME", str),
            "access_key_id": ("AWS_ACCESS_KEY_ID", str),
            "secret_access_key": ("AWS_SECRET_ACCESS_KEY", str),
            "session_token": ("AWS_SESSION_TOKEN", str),
            "use_ssl": ("AWS_USE_SSL", _bool),
            "max_pool_connections": ("AWS_MAX_POOL_CONNECTIONS", int),
            "spool_dir": ("ARCHIVE_SPOOL_DIR", str),
            "keep_spooled": ("ARCHIVE_SPOOL_KEEP", _bool),
            "multipart_threshold": ("ARCHIVE_S3_MULTIPART_THRESHOLD", int),
            "multipart_chunksize": ("ARCHIVE_S3_MULTIPART_CHUNKSIZE", int),
            "checksum": ("ARCHIVE_S3_CHECKSUM", str),
        }
        kwargs: dict[str, Any] = {}
        for param, (name, convert) in names.items():
            value = settings.get(name)
            if value is not None and value != "":
                try:
                    kwargs[param] = convert(value)
                except ValueError:
                    raise StorageError(f"{name} must be a number, got {value!r}") from None
        verify = settings.get("AWS_VERIFY")
        if verify is not None and verify != "":
            # Scrapy's AWS_VERIFY: a boolean, or the path of a CA bundle.
            as_bool = _bool(verify)
            looks_boolean = isinstance(verify, bool) or str(verify).lower() in (
                "0", "1", "true", "false", "yes", "no", "on", "off",
            )  # fmt: skip
            kwargs["verify"] = as_bool if looks_boolean else str(verify)
        kwargs.update(overrides)
        return cls(uri, **kwargs)

    def __repr__(self) -> str:
        return f"S3Storage({self.uri!r})"

    # --- the client ------------------------------------------------------------------------------

    @property
    def is_aws(self) -> bool:
        host = urlsplit(self.endpoint_url).hostname if self.endpoint_url else None
        return host is None or host.endswith(".amazonaws.com")

    def client(self) -> Any:
        """The boto3 S3 client, made on first use (boto3 is imported only then)."""
        with self._lock:
            if self._s3 is None:
                import boto3
                from botocore.config import Config

                config: dict[str, Any] = dict(self._config_options)
                if not self.is_aws:
                    # boto3 >= 1.36 adds CRC checksums by default, which several S3-compatible
                    # stores reject (boto/boto3#4392); path-style addressing needs no wildcard DNS.
                    config.update(
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                        s3={"addressing_style": "path"},
                    )
                options = {k: v for k, v in self._client_options.items() if v is not None}
                self._s3 = boto3.session.Session().client("s3", config=Config(**config), **options)
            return self._s3

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _error(self, exc: BaseException, action: str, key: str = "") -> StorageError:
        """One line naming the object and the store's answer (never the credentials)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            ParamValidationError,
            PartialCredentialsError,
        )

        where = f"s3://{self.bucket}/{self.prefix}{key}" if key else self.uri
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = error.get("Code") or str(status)
            message = f"{action} {where}: {code} ({status}) {error.get('Message') or ''}".rstrip()
            if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
                return StoreUnavailable(message)
            return StorageError(message)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StorageError(
                f"{action} {where}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or configure boto3's default chain)"
            )
        if isinstance(exc, ParamValidationError):
            return StorageError(f"{action} {where}: {exc}")
        if isinstance(exc, (BotoCoreError, OSError)):
            return StoreUnavailable(f"{action} {where}: {exc}")
        return StorageError(f"{action} {where}: {exc}")

    def _call(self, action: str, key: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), operation)(Bucket=self.bucket, **params)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._error(exc, action, key) from exc

    @staticmethod
    def _status(exc: StorageError) -> int:
        cause = exc.__cause__
        response = getattr(cause, "response", None) or {}
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)

    def check(self, write: bool = False) -> None:
        """Raise :class:`StorageError` (one line) unless the bucket answers a listing (writes are
        checked when they happen: a failing one waits in the spool)."""
        self._call("list", "", "list_objects_v2", Prefix=self.prefix, MaxKeys=1)

    # --- the spool -------------------------------------------------------------------------------

    def _spool_path(self, key: str) -> Path:
        return self.spool / validate_key(key)

    def staging_path(self, key: str) -> Path:
        path = self._spool_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _published_record(self, key: str) -> StoredObject | None:
        """What the spool records as published for ``key``, if the spooled file is still that one."""
        path = self._spool_path(key)
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

    def _spool_files(self, prefix: str) -> Iterator[Path]:
        base = self.spool / prefix if prefix else self.spool
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(_STATE_FILES):
                yield path

    def pending(self, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """Finished spooled files not yet in the store, with their keys, in key order."""
        for path in self._spool_files(prefix):
            if path.name.endswith(UNFINISHED_SUFFIXES):
                continue
            key = path.relative_to(self.spool).as_posix()
            if not path.with_name(path.name + PUBLISHED_SUFFIX).exists():
                yield key, path

    def unfinished(self, prefix: str = "") -> Iterator[Path]:
        """Spooled files still being written (``.open``) or not yet published."""
        for path in self._spool_files(prefix):
            if (
                path.name.endswith(UNFINISHED_SUFFIXES)
                or not path.with_name(path.name + PUBLISHED_SUFFIX).exists()
            ):
                yield path

    # --- publishing ------------------------------------------------------------------------------

    def immutable(self, key: str) -> bool:
        """Whether ``key`` is archive data, written once and never replaced (``immutable_prefixes``)."""
        # A crawl's CDXJ index is derived data, rebuilt when the index format changes.
        return key.startswith(self.immutable_prefixes) and not key.endswith("/index.cdxj")

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Publish ``data``. Archive data is spooled first, so a failed upload leaves it for
        ``publish``; other objects (indexes, locks, state) are replaced in one PUT."""
        key = validate_key(key)
        if not self.immutable(key):
            return self._put_object(key, data, exclusive=False)
        path = self.staging_path(key)
        path.with_name(path.name + PUBLISHED_SUFFIX).unlink(missing_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return self.put_file(key, path)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Publish ``data`` under ``key`` only if nothing is there (``If-None-Match: *``)."""
        try:
            self._put_object(validate_key(key), data, exclusive=True, settle=False)
        except _Exists:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete", key, "delete_object", Key=self._full(key))

    def put_file(self, key: str, path: Path) -> StoredObject:
        key = validate_key(key)
        path = Path(path)
        spooled = path.resolve() == self._spool_path(key)
        if spooled and (record := self._published_record(key)) is not None:
            self._drop_spooled(key, path)
            return record
        if not path.is_file():
            # Recovery re-publishes objects whose spooled copy is already gone: describe them.
            head = self._head(key)
            if head is not None and head.get("Metadata", {}).get("sha256"):
                return StoredObject(key, head["ContentLength"], head["Metadata"]["sha256"])
            raise StorageError(f"no such file to publish as {key}: {path}")
        with _exclusive(path) as fh:
            if spooled:
                self._abort_recorded_upload(key)
            stat = os.fstat(fh.fileno())
            stored = self._upload(key, fh, stat.st_size, spooled)
        if spooled and self.keep_spooled:
            published = {
                "key": key,
                "size": stored.size,
                "sha256": stored.sha256,
                "mtime_ns": stat.st_mtime_ns,  # a file rewritten since is not this record's
                "published": datetime.now(UTC).isoformat(),
            }
            _write_json(path.with_name(path.name + PUBLISHED_SUFFIX), published)
        elif spooled:
            # No record needed: killed before this unlink, the next run's upload is refused by
            # If-None-Match and the object found identical, which marks it published all the same.
            path.unlink(missing_ok=True)
        logger.debug("Published %s (%d bytes)", f"{self.uri}/{key}", stored.size)
        return stored

    def _drop_spooled(self, key: str, path: Path) -> None:
        if self.keep_spooled:
            return
        path.unlink(missing_ok=True)
        path.with_name(path.name + PUBLISHED_SUFFIX).unlink(missing_ok=True)

    def _upload(self, key: str, fh: BinaryIO, size: int, spooled: bool) -> StoredObject:
        if size >= self.multipart_threshold:
            return self._upload_multipart(key, fh, size, spooled)
        data = fh.read()
        if len(data) != size:
            raise StorageError(f"{key}: the file changed while being published")
        return self._put_object(key, data, exclusive=self.immutable(key))

    def _put_object(
        self, key: str, data: bytes, *, exclusive: bool, settle: bool = True
    ) -> StoredObject:
        """One PutObject with a checksum; ``exclusive`` adds ``If-None-Match: *``. A refusal
        raises :class:`_Exists` unless ``settle``, which compares the object already there."""
        sha256 = hashlib.sha256(data).digest()
        integrity = (
            {"ChecksumSHA256": _b64(sha256)}
            if self.checksum == "sha256"
            else {
                "ContentMD5": _b64(hashlib.md5(data).digest())
            }  # S3's own integrity check, not security
        )
        condition = {"IfNoneMatch": "*"} if exclusive else {}
        try:
            self._call(
                "upload", key, "put_object",
                Key=self._full(key), Body=data, ContentType=_content_type(key),
                Metadata={"sha256": sha256.hex()}, **integrity, **condition,
            )  # fmt: skip
        except StorageError as exc:
            if self._status(exc) != 412:
                raise
            if not settle:
                raise _Exists(key) from exc
            return self._already_there(key, len(data), sha256.hex())
        return self._confirm(key, len(data), sha256.hex(), integrity.get("ChecksumSHA256"))

    def _part_size(self, size: int) -> int:
        return max(self.multipart_chunksize, -(-size // MAX_PARTS))

    def _upload_multipart(self, key: str, fh: BinaryIO, size: int, spooled: bool) -> StoredObject:
        part_size = self._part_size(size)
        # First pass: the whole file's SHA-256 goes into the object's metadata at creation, and
        # each part's checksum is sent with it.
        whole = hashlib.sha256()
        part_digests: list[bytes] = []
        while chunk := fh.read(part_size):
            whole.update(chunk)
            part_digests.append(
                hashlib.sha256(chunk).digest()
                if self.checksum == "sha256"
                else hashlib.md5(chunk).digest()  # S3's own integrity check
            )
        sha256 = whole.hexdigest()
        full = self._full(key)
        extra = {"ChecksumAlgorithm": "SHA256"} if self.checksum == "sha256" else {}
        created = self._call(
            "upload", key, "create_multipart_upload",
            Key=full, ContentType=_content_type(key), Metadata={"sha256": sha256}, **extra,
        )  # fmt: skip
        upload_id = created["UploadId"]
        state = self._spool_path(key).with_name(Path(key).name + UPLOAD_SUFFIX)
        if spooled:
            _write_json(state, {"key": key, "upload_id": upload_id})
        completed = False
        try:
            parts = []
            fh.seek(0)
            for number, digest in enumerate(part_digests, 1):
                chunk = fh.read(part_size)
                check = (
                    {"ChecksumSHA256": _b64(digest)}
                    if self.checksum == "sha256"
                    else {"ContentMD5": _b64(digest)}
                )
                answer = self._call(
                    "upload", key, "upload_part",
                    Key=full, UploadId=upload_id, PartNumber=number, Body=chunk, **check,
                )  # fmt: skip
                parts.append({"ETag": answer["ETag"], "PartNumber": number, **check})
                parts[-1].pop("ContentMD5", None)
            if fh.tell() != size:
                raise StorageError(f"{key}: the file changed while being published")
            try:
                self._call(
                    "upload", key, "complete_multipart_upload",
                    Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts},
                    **({"IfNoneMatch": "*"} if self.immutable(key) else {}),
                )  # fmt: skip
                completed = True
            except StorageError as exc:
                if self._status(exc) != 412:
                    raise
                # The key exists: this upload is aborted (below), the object there is compared.
                return self._already_there(key, size, sha256)
        finally:
            # Aborted on any failure, even an interrupt, so no parts linger; if the abort itself
            # fails, the state file lets the next attempt (or ``publish``) abort it.
            if (completed or self._abort(key, upload_id)) and spooled:
                state.unlink(missing_ok=True)
        composite = None
        if self.checksum == "sha256":
            composite = f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(parts)}"
        return self._confirm(key, size, sha256, composite)

    def _abort(self, key: str, upload_id: str) -> bool:
        """Abort a multipart upload, so its parts never linger (or become visible); best effort."""
        try:
            self._call(
                "abort", key, "abort_multipart_upload", Key=self._full(key), UploadId=upload_id
            )
        except StorageError as exc:
            if self._status(exc) == 404:  # NoSuchUpload: already completed or aborted
                return True
            logger.warning(
                "Could not abort multipart upload of %s (left to the next publish): %s", key, exc
            )
            return False
        return True

    def _abort_recorded_upload(self, key: str) -> None:
        state = self._spool_path(key).with_name(Path(key).name + UPLOAD_SUFFIX)
        try:
            upload_id = json.loads(state.read_text())["upload_id"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        logger.info("Aborting the multipart upload of %s that an earlier attempt left", key)
        if self._abort(key, upload_id):
            state.unlink(missing_ok=True)

    def abort_stale_uploads(self, keys: Iterable[str]) -> int:
        """Abort incomplete multipart uploads of ``keys`` whose spooled file nobody is publishing."""
        wanted = {self._full(key): key for key in keys}
        if not wanted:
            return 0
        aborted = 0
        pages = self._paginate("list_multipart_uploads", "Uploads", Prefix=self.prefix)
        for upload in pages:
            key = wanted.get(upload["Key"])
            if key is None:
                continue
            path = self._spool_path(key)
            try:
                with _exclusive(path):
                    if self._abort(key, upload["UploadId"]):
                        aborted += 1
                        path.with_name(path.name + UPLOAD_SUFFIX).unlink(missing_ok=True)
            except (StorageError, FileNotFoundError):
                continue  # being published right now, or gone
        return aborted

    def _paginate(self, operation: str, field: str, **params: Any) -> Iterator[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client().get_paginator(operation).paginate(Bucket=self.bucket, **params)
        try:
            for page in pages:
                yield from page.get(field, [])
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._error(exc, "list", "") from exc

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._call(
                "head", key, "head_object", Key=self._full(key), ChecksumMode="ENABLED"
            )
        except StorageError as exc:
            if self._status(exc) == 404:
                return None
            raise

    def _differences(
        self, head: dict[str, Any], size: int, sha256: str, checksum: str | None
    ) -> list[str]:
        found = []
        if head["ContentLength"] != size:
            found.append(f"size {head['ContentLength']} instead of {size}")
        stored_sha = head.get("Metadata", {}).get("sha256")
        if stored_sha is not None and stored_sha != sha256:
            found.append(f"sha256 {stored_sha} instead of {sha256}")
        stored_checksum = head.get("ChecksumSHA256")
        if checksum and stored_checksum and stored_checksum.split("-")[0] != checksum.split("-")[0]:
            found.append(f"checksum {stored_checksum} instead of {checksum}")
        return found

    def _confirm(self, key: str, size: int, sha256: str, checksum: str | None) -> StoredObject:
        head = self._head(key)
        if head is None:
            raise StoreUnavailable(f"upload {self.uri}/{key}: accepted, but HEAD does not find it")
        if differences := self._differences(head, size, sha256, checksum):
            raise StorageError(
                f"upload {self.uri}/{key}: stored object has {'; '.join(differences)}"
            )
        if checksum and not head.get("ChecksumSHA256") and not self._warned_no_checksum:
            self._warned_no_checksum = True
            logger.warning(
                "%s returns no SHA-256 checksum; uploads are confirmed by size and metadata only "
                "(set ARCHIVE_S3_CHECKSUM=md5 if it ignores x-amz-checksum headers)",
                self.uri,
            )
        return StoredObject(key, size, sha256)

    def _already_there(self, key: str, size: int, sha256: str) -> StoredObject:
        """``If-None-Match`` refused the write: the same bytes count as published, others never do."""
        head = self._head(key)
        if head is None:
            raise StoreUnavailable(
                f"upload {self.uri}/{key}: refused as existing, but HEAD finds nothing"
            )
        differences = self._differences(head, size, sha256, None)
        if not differences and "sha256" not in head.get("Metadata", {}):
            # Written by another tool: compare the bytes themselves.
            digest = hashlib.sha256()
            with self.open(key) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != sha256:
                differences.append(f"sha256 {digest.hexdigest()} instead of {sha256}")
        if differences:
            raise PublishConflict(
                f"{self.uri}/{key} already exists with different content ({'; '.join(differences)}); "
                "not overwritten, the local file is kept"
            )
        logger.info("%s/%s was already published with the same content", self.uri, key)
        return StoredObject(key, size, sha256)

    # --- reading ---------------------------------------------------------------------------------

    def _get(self, key: str, **params: Any) -> dict[str, Any]:
        try:
            return self._call("read", key, "get_object", Key=self._full(key), **params)
        except StorageError as exc:
            if self._status(exc) == 404:
                raise StorageError(f"no such object: {key}") from exc
            raise

    def open(self, key: str) -> BinaryIO:
        answer = self._get(key)
        raw = _ObjectReader(self, key, answer["Body"], answer.get("ETag"))
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError("negative byte range")
        if length == 0:
            return b""
        try:
            answer = self._get(key, Range=f"bytes={offset}-{offset + length - 1}")
        except StorageError as exc:
            if self._status(exc) == 416:  # past the end, as a file read there gives nothing
                return b""
            raise
        from botocore.exceptions import BotoCoreError

        try:
            with answer["Body"] as body:
                return body.read()
        except (BotoCoreError, OSError) as exc:
            raise self._error(exc, "read", key) from exc

    def exists(self, key: str) -> bool:
        try:
            validate_key(key)
        except StorageError:
            return False
        return self._head(key) is not None

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        for item in self._paginate(
            "list_objects_v2",
            "Contents",
            Prefix=self.prefix + prefix,
            PaginationConfig={"PageSize": self.list_page_size},
        ):
            key = item["Key"][len(self.prefix) :]
            if key and not key.endswith(UNFINISHED_SUFFIXES):
                yield StoredObject(key, item["Size"])


class _ObjectReader(io.RawIOBase):
    """An object's bytes as a stream; a dropped connection resumes with a Range request."""

    def __init__(self, storage: S3Storage, key: str, body: Any, etag: str | None) -> None:
        self._storage = storage
        self._key = key
        self._body = body
        self._etag = etag
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError

        for attempt in range(_RESUMES + 1):
            try:
                data = self._body.read(len(buffer))
                break
            except (BotoCoreError, OSError) as exc:
                if attempt == _RESUMES:
                    raise OSError(f"reading {self._storage.uri}/{self._key}: {exc}") from exc
                logger.warning("Resuming %s at byte %d after: %s", self._key, self._position, exc)
                self._body.close()
                # If-Match: the rest must come from the same object, not a replacement.
                params = {"Range": f"bytes={self._position}-"}
                if self._etag:
                    params["IfMatch"] = self._etag
                self._body = self._storage._get(self._key, **params)["Body"]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
