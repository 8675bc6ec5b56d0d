"""Object storage in S3 or an S3-compatible store (MinIO, Ceph RGW, Cloudflare R2), built in a spool.

Files are written in a local :class:`archive.spool.Spool` and uploaded when finished: checksummed,
never overwriting (``If-None-Match: *``), confirmed with HEAD. Options come from
:class:`archive.s3_client.S3Options` (``S3Options.from_settings`` maps Scrapy's ``AWS_*`` settings and
``ARCHIVE_SPOOL_*`` / ``ARCHIVE_S3_*``); boto3 is imported only when a store is used.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from archive.s3_client import (
    ResumingBody,
    S3Options,
    http_status,
    is_aws,
    make_client,
    storage_error,
)
from archive.spool import Spool, exclusive
from archive.storage import (
    UNFINISHED_SUFFIXES,
    PublishConflict,
    StorageError,
    StoredObject,
    StoreUnavailable,
    validate_key,
)

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")
_CONTENT_TYPES = {
    ".gz": "application/gzip",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
}


class _Exists(Exception):
    """``If-None-Match: *`` refused a write: something is already under the key."""


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


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
    Credentials come from the options or boto3's default chain and never appear in messages.
    """

    # Spooled files are copied to the store, so each is checked before it leaves this machine.
    needs_read_back_verification = True
    local_root: Path | None = None

    def __init__(self, uri: str, options: S3Options | None = None, *, client: Any = None) -> None:
        options = options or S3Options()
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
        self.options = options
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = validate_key(prefix) + "/" if prefix else ""
        self.uri = f"s3://{self.bucket}/{prefix}".rstrip("/")
        self._spool = Spool.for_store(
            options.spool_dir, f"{self.bucket}/{prefix}", keep=options.keep_spooled
        )
        self.endpoint_url = options.resolved_endpoint()
        self._s3 = client
        self._lock = threading.Lock()
        self._warned_no_checksum = False

    @classmethod
    def from_settings(cls, uri: str, settings: Mapping[str, Any], **overrides: Any) -> S3Storage:
        """A store configured from Scrapy-style settings (see :meth:`S3Options.from_settings`)."""
        return cls(uri, S3Options.from_settings(settings, **overrides))

    def __repr__(self) -> str:
        return f"S3Storage({self.uri!r})"

    # --- the client ------------------------------------------------------------------------------

    @property
    def is_aws(self) -> bool:
        return is_aws(self.endpoint_url)

    @property
    def spool(self) -> Path:
        """The local folder where files are built and wait to be uploaded."""
        return self._spool.root

    def client(self) -> Any:
        """The boto3 S3 client, made on first use (boto3 is imported only then)."""
        with self._lock:
            if self._s3 is None:
                self._s3 = make_client(self.options)
            return self._s3

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _error(self, exc: BaseException, action: str, key: str = "") -> StorageError:
        where = f"s3://{self.bucket}/{self.prefix}{key}" if key else self.uri
        return storage_error(exc, action, where)

    def _call(self, action: str, key: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), operation)(Bucket=self.bucket, **params)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._error(exc, action, key) from exc

    def check(self, write: bool = False) -> None:
        """Raise :class:`StorageError` (one line) unless the bucket answers a listing (writes are
        checked when they happen: a failing one waits in the spool)."""
        self._call("list", "", "list_objects_v2", Prefix=self.prefix, MaxKeys=1)

    # --- the spool -------------------------------------------------------------------------------

    def staging_path(self, key: str) -> Path:
        return self._spool.staging_path(key)

    def pending(self, prefix: str = "") -> Iterator[tuple[str, Path]]:
        """Finished spooled files not yet in the store, with their keys, in key order."""
        return self._spool.pending(prefix)

    def unfinished(self, prefix: str = "") -> Iterator[Path]:
        """Spooled files still being written (``.open``) or not yet published."""
        return self._spool.unfinished(prefix)

    # --- publishing ------------------------------------------------------------------------------

    def immutable(self, key: str) -> bool:
        """Whether ``key`` is archive data, written once and never replaced (``immutable_prefixes``)."""
        # A crawl's CDXJ index is derived data, rebuilt when the index format changes.
        return key.startswith(self.options.immutable_prefixes) and not key.endswith("/index.cdxj")

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Publish ``data``. Archive data is spooled first, so a failed upload leaves it for
        ``publish``; other objects (indexes, locks, state) are replaced in one PUT."""
        key = validate_key(key)
        if not self.immutable(key):
            return self._put_object(key, data, exclusive=False)
        return self.put_file(key, self._spool.write(key, data))

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
        spooled = self._spool.holds(key, path)
        if spooled and (record := self._spool.published(key)) is not None:
            self._spool.forget(key)
            return record
        if not path.is_file():
            # Recovery re-publishes objects whose spooled copy is already gone: describe them.
            head = self._head(key)
            if head is not None and head.get("Metadata", {}).get("sha256"):
                return StoredObject(key, head["ContentLength"], head["Metadata"]["sha256"])
            raise StorageError(f"no such file to publish as {key}: {path}")
        with exclusive(path) as fh:
            if spooled:
                self._abort_recorded_upload(key)
            stat = os.fstat(fh.fileno())
            stored = self._upload(key, fh, stat.st_size, spooled)
        if spooled:
            self._spool.mark_published(key, stored, stat.st_mtime_ns)
        logger.debug("Published %s (%d bytes)", f"{self.uri}/{key}", stored.size)
        return stored

    def _upload(self, key: str, fh: BinaryIO, size: int, spooled: bool) -> StoredObject:
        if size >= self.options.multipart_threshold:
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
            if self.options.checksum == "sha256"
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
            if http_status(exc) != 412:
                raise
            if not settle:
                raise _Exists(key) from exc
            return self._already_there(key, len(data), sha256.hex())
        return self._confirm(key, len(data), sha256.hex(), integrity.get("ChecksumSHA256"))

    def _part_size(self, size: int) -> int:
        return max(self.options.multipart_chunksize, -(-size // MAX_PARTS))

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
                if self.options.checksum == "sha256"
                else hashlib.md5(chunk).digest()  # S3's own integrity check
            )
        sha256 = whole.hexdigest()
        full = self._full(key)
        extra = {"ChecksumAlgorithm": "SHA256"} if self.options.checksum == "sha256" else {}
        created = self._call(
            "upload", key, "create_multipart_upload",
            Key=full, ContentType=_content_type(key), Metadata={"sha256": sha256}, **extra,
        )  # fmt: skip
        upload_id = created["UploadId"]
        if spooled:
            self._spool.record_upload(key, upload_id)
        completed = False
        try:
            parts = []
            fh.seek(0)
            for number, digest in enumerate(part_digests, 1):
                chunk = fh.read(part_size)
                check = (
                    {"ChecksumSHA256": _b64(digest)}
                    if self.options.checksum == "sha256"
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
                if http_status(exc) != 412:
                    raise
                # The key exists: this upload is aborted (below), the object there is compared.
                return self._already_there(key, size, sha256)
        finally:
            # Aborted on any failure, even an interrupt, so no parts linger; if the abort itself
            # fails, the state file lets the next attempt (or ``publish``) abort it.
            if (completed or self._abort(key, upload_id)) and spooled:
                self._spool.clear_upload(key)
        composite = None
        if self.options.checksum == "sha256":
            composite = f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(parts)}"
        return self._confirm(key, size, sha256, composite)

    def _abort(self, key: str, upload_id: str) -> bool:
        """Abort a multipart upload, so its parts never linger (or become visible); best effort."""
        try:
            self._call(
                "abort", key, "abort_multipart_upload", Key=self._full(key), UploadId=upload_id
            )
        except StorageError as exc:
            if http_status(exc) == 404:  # NoSuchUpload: already completed or aborted
                return True
            logger.warning(
                "Could not abort multipart upload of %s (left to the next publish): %s", key, exc
            )
            return False
        return True

    def _abort_recorded_upload(self, key: str) -> None:
        upload_id = self._spool.recorded_upload(key)
        if upload_id is None:
            return
        logger.info("Aborting the multipart upload of %s that an earlier attempt left", key)
        if self._abort(key, upload_id):
            self._spool.clear_upload(key)

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
            try:
                with exclusive(self._spool.path(key)):
                    if self._abort(key, upload["UploadId"]):
                        aborted += 1
                        self._spool.clear_upload(key)
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
            if http_status(exc) == 404:
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
            if http_status(exc) == 404:
                raise StorageError(f"no such object: {key}") from exc
            raise

    def open(self, key: str) -> BinaryIO:
        answer = self._get(key)
        etag = answer.get("ETag")

        def rest(position: int) -> Any:
            # If-Match: the rest must come from the same object, not a replacement.
            params = {"Range": f"bytes={position}-", **({"IfMatch": etag} if etag else {})}
            return self._get(key, **params)["Body"]

        raw = ResumingBody(answer["Body"], rest, f"{self.uri}/{key}")
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError("negative byte range")
        if length == 0:
            return b""
        try:
            answer = self._get(key, Range=f"bytes={offset}-{offset + length - 1}")
        except StorageError as exc:
            if http_status(exc) == 416:  # past the end, as a file read there gives nothing
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
            PaginationConfig={"PageSize": self.options.list_page_size},
        ):
            key = item["Key"][len(self.prefix) :]
            if key and not key.endswith(UNFINISHED_SUFFIXES):
                yield StoredObject(key, item["Size"])
