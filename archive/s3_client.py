"""How an S3 store is reached: its options (:class:`S3Options`, read from settings in one place),
the boto3 client made from them, botocore's errors turned into one-line storage errors, and
downloads that resume where a dropped connection left them (:class:`ResumingBody`).

boto3 and botocore are imported only when a client is made or an error is translated.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.storage import StorageError, StoreUnavailable

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last (EntityTooSmall)
# Answers that may pass if asked again (S3 error responses; 409 is a conditional-write race).
_TRANSIENT_CODES = {
    "RequestTimeout", "Throttling", "ThrottlingException", "SlowDown", "RequestTimeTooSkewed",
    "ConditionalRequestConflict", "InternalError", "ServiceUnavailable",
}  # fmt: skip
_RESUMES = 3  # times a dropped download is resumed with a Range request


def _bool(value: Any) -> bool | None:
    """A boolean setting given as a bool or as text (``-s AWS_USE_SSL=false``); None if unset."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _verify(value: Any) -> bool | str | None:
    """Scrapy's ``AWS_VERIFY``: a boolean, or the path of a CA bundle."""
    looks_boolean = isinstance(value, bool) or str(value).lower() in (
        "0", "1", "true", "false", "yes", "no", "on", "off",
    )  # fmt: skip
    return _bool(value) if looks_boolean else str(value)


# Option -> (setting, conversion): the settings an S3 store reads, all of them.
_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "endpoint_url": ("AWS_ENDPOINT_URL", str),
    "region_name": ("AWS_REGION_NAME", str),
    "access_key_id": ("AWS_ACCESS_KEY_ID", str),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY", str),
    "session_token": ("AWS_SESSION_TOKEN", str),
    "use_ssl": ("AWS_USE_SSL", _bool),
    "verify": ("AWS_VERIFY", _verify),
    "max_pool_connections": ("AWS_MAX_POOL_CONNECTIONS", int),
    "spool_dir": ("ARCHIVE_SPOOL_DIR", str),
    "keep_spooled": ("ARCHIVE_SPOOL_KEEP", _bool),
    "multipart_threshold": ("ARCHIVE_S3_MULTIPART_THRESHOLD", int),
    "multipart_chunksize": ("ARCHIVE_S3_MULTIPART_CHUNKSIZE", int),
    "checksum": ("ARCHIVE_S3_CHECKSUM", str),
}


@dataclass(frozen=True)
class S3Options:
    """Everything an :class:`archive.s3.S3Storage` is configured with besides its URI.

    Connection (``None``: boto3's default chain and environment), the spool, uploads (multipart
    above ``multipart_threshold``, ``checksum`` sha256 or md5), and which keys are archive data
    written once (``immutable_prefixes``). Secrets are left out of the repr.
    """

    endpoint_url: str | None = None
    region_name: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    use_ssl: bool | None = None
    verify: bool | str | None = None
    max_pool_connections: int | None = None
    spool_dir: str | Path | None = None
    keep_spooled: bool = False
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024
    checksum: str = "sha256"
    max_attempts: int = 3
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    list_page_size: int = 1000
    immutable_prefixes: tuple[str, ...] = ("crawls/",)

    def __post_init__(self) -> None:
        if self.checksum not in ("sha256", "md5"):
            raise StorageError(f"ARCHIVE_S3_CHECKSUM must be sha256 or md5, got {self.checksum!r}")
        object.__setattr__(self, "multipart_threshold", max(int(self.multipart_threshold), 1))
        chunksize = max(int(self.multipart_chunksize), MIN_PART_SIZE)
        object.__setattr__(self, "multipart_chunksize", chunksize)
        object.__setattr__(self, "immutable_prefixes", tuple(self.immutable_prefixes))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> S3Options:
        """Options from Scrapy-style settings (any mapping with ``get``): ``AWS_ENDPOINT_URL``,
        ``AWS_REGION_NAME``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_SESSION_TOKEN``, ``AWS_USE_SSL``, ``AWS_VERIFY``, ``AWS_MAX_POOL_CONNECTIONS``,
        ``ARCHIVE_SPOOL_DIR``, ``ARCHIVE_SPOOL_KEEP``, ``ARCHIVE_S3_MULTIPART_THRESHOLD``,
        ``ARCHIVE_S3_MULTIPART_CHUNKSIZE``, ``ARCHIVE_S3_CHECKSUM``; unset ones keep the defaults.
        """
        values: dict[str, Any] = {}
        for option, (name, convert) in _SETTINGS.items():
            value = settings.get(name)
            if value is not None and value != "":
                try:
                    values[option] = convert(value)
                except ValueError:
                    raise StorageError(f"{name} must be a number, got {value!r}") from None
        values.update(overrides)
        return cls(**values)

    def resolved_endpoint(self) -> str | None:
        """The endpoint, from the options or the environment (botocore reads
        ``AWS_ENDPOINT_URL(_S3)`` itself; it is looked up here too, to know whether it is AWS)."""
        return (
            self.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )


def is_aws(endpoint_url: str | None) -> bool:
    """Whether ``endpoint_url`` (None: the default) is Amazon's own S3."""
    host = urlsplit(endpoint_url).hostname if endpoint_url else None
    return host is None or host.endswith(".amazonaws.com")


def make_client(options: S3Options) -> Any:
    """A boto3 S3 client for ``options`` (boto3 is imported only now)."""
    import boto3
    from botocore.config import Config

    endpoint_url = options.resolved_endpoint()
    config: dict[str, Any] = {
        # Tries per request, the first included (botocore's own "max_attempts" counts retries).
        "retries": {"total_max_attempts": options.max_attempts, "mode": "standard"},
        "connect_timeout": options.connect_timeout,
        "read_timeout": options.read_timeout,
        "max_pool_connections": options.max_pool_connections or 10,
    }
    if not is_aws(endpoint_url):
        # boto3 >= 1.36 adds CRC checksums by default, which several S3-compatible stores reject
        # (boto/boto3#4392); path-style addressing needs no wildcard DNS.
        config.update(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
        )
    client_options = {
        "endpoint_url": endpoint_url,
        "region_name": options.region_name,
        "aws_access_key_id": options.access_key_id,
        "aws_secret_access_key": options.secret_access_key,
        "aws_session_token": options.session_token,
        "use_ssl": options.use_ssl,
        "verify": options.verify,
    }
    present = {k: v for k, v in client_options.items() if v is not None}
    return boto3.session.Session().client("s3", config=Config(**config), **present)


def storage_error(exc: BaseException, action: str, where: str) -> StorageError:
    """One line naming the object and the store's answer (never the credentials);
    :class:`StoreUnavailable` when trying later may work."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
    )

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


def http_status(exc: StorageError) -> int:
    """The HTTP status of the S3 answer behind ``exc`` (0 when there was none)."""
    response = getattr(exc.__cause__, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


class ResumingBody(io.RawIOBase):
    """An object's bytes as a stream; a dropped connection resumes with ``rest(position)``, which
    answers the body from that byte on (a Range request)."""

    def __init__(self, body: Any, rest: Callable[[int], Any], where: str) -> None:
        self._body = body
        self._rest = rest
        self._where = where
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
                    raise OSError(f"reading {self._where}: {exc}") from exc
                logger.warning("Resuming %s at byte %d after: %s", self._where, self._position, exc)
                self._body.close()
                self._body = self._rest(self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
