"""The ``lifegate-archive`` subcommands, one module each; this module holds what they share.

Each command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning the exit status. Every subcommand also takes
``-s NAME=VALUE`` and ``--debug`` (added by ``crawler.cli``); its settings, read and checked once
before the command runs, are ``args.settings``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

# Scrapy logs every overridden setting when a crawl starts: secrets must come from the environment.
SECRET_SETTINGS = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
# Settings a store is built from: workers that reopen the store (reextract) get these.
STORE_SETTING_PREFIXES = ("AWS_", "ARCHIVE_S3_", "ARCHIVE_SPOOL_")


class SettingsError(ValueError):
    """A setting the user gave cannot be used; the message names it and what it accepts."""


def parse_setting_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``-s NAME=VALUE`` pairs as a dict; SettingsError for a malformed pair or a secret."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SettingsError(f"-s expects NAME=VALUE, got {pair!r}")
        if name in SECRET_SETTINGS:
            raise SettingsError(f"set {name} in the environment, not with -s (settings are logged)")
        out[name] = value
    return out


def project_settings(overrides: dict[str, Any] | None = None):
    """The project's Scrapy settings, wherever the command runs from (no scrapy.cfg needed).

    ``crawler.settings`` first, then the module named by ``SCRAPY_SETTINGS_MODULE`` (if another),
    then ``overrides`` (the command line).
    """
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    module = os.environ.get("SCRAPY_SETTINGS_MODULE")
    if module and module != "crawler.settings":
        try:
            settings.setmodule(importlib.import_module(module), priority="project")
        except ImportError as exc:
            raise SettingsError(
                f"SCRAPY_SETTINGS_MODULE={module}: cannot import it ({exc})"
            ) from None
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def _whole(minimum: int, maximum: int | None = None) -> Callable[[Any], str | None]:
    accepts = (
        f"a whole number from {minimum} to {maximum}"
        if maximum is not None
        else (f"a whole number, {minimum} or more")
    )

    def check(value: Any) -> str | None:
        try:
            number = int(value)
        except (TypeError, ValueError):
            return accepts
        if number < minimum or (maximum is not None and number > maximum):
            return accepts
        return None

    return check


def _seconds(value: Any) -> str | None:
    try:
        ok = float(value) >= 0
    except (TypeError, ValueError):
        ok = False
    return None if ok else "a number of seconds, 0 or more"


def _boolean(value: Any) -> str | None:
    if isinstance(value, bool) or str(value).lower() in (
        "0",
        "1",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
    ):
        return None
    return "true or false"


def _level(value: Any) -> str | None:
    names = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
    return None if str(value).upper() in names else "one of " + ", ".join(names)


# What each setting a user commonly overrides accepts; checked before anything runs or is written.
SETTING_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "WARC_GZIP_LEVEL": _whole(0, 9),
    "WARC_MAX_SIZE": _whole(1),
    "EXTRACT_WORKERS": _whole(0),
    "EXTRACT_MAX_BYTES": _whole(1),
    "EXTRACT_TIMEOUT": _seconds,
    "EXTRACT_WORKER_NICENESS": _whole(0, 19),
    "CONCURRENT_REQUESTS": _whole(1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": _whole(1),
    "CONCURRENT_ITEMS": _whole(1),
    "DOWNLOAD_DELAY": _seconds,
    "DOWNLOAD_TIMEOUT": _seconds,
    "DOWNLOAD_MAXSIZE": _whole(0),
    "DOWNLOAD_WARNSIZE": _whole(0),
    "RETRY_TIMES": _whole(0),
    "CLOSESPIDER_ITEMCOUNT": _whole(0),
    "AUTOTHROTTLE_ENABLED": _boolean,
    "ROBOTSTXT_OBEY": _boolean,
    "WARC_ENABLED": _boolean,
    "WARC_FSYNC": _boolean,
    "EXTRACT_ENABLED": _boolean,
    "LOG_LEVEL": _level,
    "ARCHIVE_ARTICLE_LIMIT": _whole(0),
    "ARCHIVE_PROGRESS_INTERVAL": _seconds,
    "ARCHIVE_IDLE_WAIT_MAX": _seconds,
    "ARCHIVE_NO_PROGRESS_TIMEOUT": _seconds,
    "ARCHIVE_ROBOTS_RETRY_DELAY": _seconds,
    "ARCHIVE_ROBOTS_RETRIES": _whole(0),
    "ARCHIVE_ROBOTS_TIMEOUT": _seconds,
    "ARCHIVE_DASK_CONNECT_TIMEOUT": _seconds,
    "ARCHIVE_ROBOTS_MAX_BYTES": _whole(1),
    "ARCHIVE_RETRY_AFTER_MAX": _seconds,
    "ARCHIVE_PUBLISH_RETRIES": _whole(1),
    "ARCHIVE_PUBLISH_BACKOFF": _seconds,
    "ARCHIVE_PUBLISH_TIMEOUT": _seconds,
    "ARCHIVE_LOCK_STALE_AFTER": _seconds,
    "ARCHIVE_SCOPE_MAX_HOPS": _whole(1),
    "ARCHIVE_SCOPE_MAX_URL_LENGTH": _whole(1),
    "ARCHIVE_SITEMAP_MAX_BYTES": _whole(1),
    "ARCHIVE_SITEMAP_MAX_URLS": _whole(1),
    "ARCHIVE_S3_MULTIPART_THRESHOLD": _whole(5 * 1024 * 1024),
    "ARCHIVE_S3_MULTIPART_CHUNKSIZE": _whole(5 * 1024 * 1024),
    "ARCHIVE_SRCSET_MAX_CANDIDATES": _whole(0),
    "ARCHIVE_INDEX_AT_COMMIT": _boolean,
    "ARCHIVE_REVISIT_IDENTICAL_PAYLOADS": _boolean,
    "ARCHIVE_REPLAY_MAX_DECODED_BYTES": _whole(1),
    "ARCHIVE_REPLAY_DECODE_BUDGET_BYTES": _whole(1),
}


def validate_settings(settings) -> None:
    """Raise SettingsError naming the first setting whose value cannot be used."""
    for name, check in SETTING_CHECKS.items():
        value = settings.get(name)
        if value is None or value == "":
            continue
        if (accepts := check(value)) is not None:
            raise SettingsError(f"{name}={value!r}: expects {accepts}")


def store_settings(settings) -> tuple[tuple[str, Any], ...]:
    """The settings a store is opened with, as a hashable, picklable tuple (for worker processes)."""
    return tuple(
        sorted(
            (name, value)
            for name, value in settings.items()
            if name.startswith(STORE_SETTING_PREFIXES)
            and isinstance(value, (str, int, float, bool))
        )
    )


def open_store(args, *, write: bool = False):
    """The store a command works on (``--store``, else ``ARCHIVE_STORE``), checked usable.

    Raises ``archive.storage.StorageError`` (one line; ``crawler.cli`` exits 2) when it cannot be
    opened, is missing (a bucket, a folder to read), is not a folder, or (``write``) not writable.
    """
    from archive.storage import capabilities

    storage = configured_storage(args.settings, getattr(args, "store", None))
    capabilities(storage).check(write=write)
    return storage


def configured_storage(settings, uri: str | None = None):
    """The store named by ``uri`` (or ``ARCHIVE_STORE``), with the configured storage classes.

    Raises ``archive.storage.StorageError`` with a one-line message when it cannot be opened.
    """
    from archive.storage import open_storage

    return open_storage(uri or settings.get("ARCHIVE_STORE"), settings=settings)
