"""The store a command works on: opened from its settings, checked usable before any work starts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from archive.storage import Storage

# Settings a store is built from: workers that reopen the store (reextract) get these.
STORE_SETTING_PREFIXES = ("AWS_", "ARCHIVE_S3_", "ARCHIVE_SPOOL_")


def store_settings(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The settings a store is opened with, as a hashable, picklable tuple (for worker processes)."""
    return tuple(
        sorted(
            (name, value)
            for name, value in settings.items()
            if name.startswith(STORE_SETTING_PREFIXES)
            and isinstance(value, (str, int, float, bool))
        )
    )


def configured_storage(settings: Any, uri: str | None = None) -> Storage:
    """The store named by ``uri`` (or ``ARCHIVE_STORE``), with the configured storage classes.

    Raises ``archive.storage.StorageError`` with a one-line message when it cannot be opened.
    """
    from archive.storage import open_storage

    return open_storage(uri or settings.get("ARCHIVE_STORE"), settings=settings)


def open_store(args: argparse.Namespace, *, write: bool = False) -> Storage:
    """The store a command works on (``--store``, else ``ARCHIVE_STORE``), checked usable.

    Raises ``archive.storage.StorageError`` (one line; the command line exits 2) when it cannot be
    opened, is missing (a bucket, a folder to read), is not a folder, or (``write``) not writable.
    """
    from archive.storage import capabilities

    storage = configured_storage(args.settings, getattr(args, "store", None))
    capabilities(storage).check(write=write)
    return storage


def crawl_store_problem(settings: Any) -> tuple[int, str] | None:
    """Exit status and one line saying why a crawl cannot write to its store now, or None."""
    from archive.lock import StoreLock
    from archive.storage import StorageError, StoreUnavailable, capabilities

    try:
        storage = configured_storage(settings)
        capabilities(storage).check(write=True)
    except StorageError as exc:
        if not isinstance(exc, StoreUnavailable):
            return 2, str(exc)
        # Unreachable for now (not missing): the crawl spools, `publish` uploads later.
        print(f"lifegate-archive crawl: warning: {exc}; files wait in the spool", file=sys.stderr)
        return None
    lock = StoreLock(
        storage,
        "check",
        stale_after=timedelta(seconds=settings.getfloat("ARCHIVE_LOCK_STALE_AFTER")),
    )
    holder = lock.current()
    joining = (
        settings.get("ARCHIVE_REDIS_URL")
        and holder is not None
        and holder.run_id == settings.get("ARCHIVE_RUN_ID")
    )
    if holder is not None and not joining and not lock.stale(holder):
        return 3, f"the store {storage.uri} is in use by {holder.describe()}"
    return None
