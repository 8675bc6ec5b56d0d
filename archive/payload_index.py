"""Payloads the archive already holds, by digest: what makes a capture a revisit.

Heritrix-style deduplication (``identical-payload-digest``): a response whose body is identical to
one already archived, at any URL, is written as a revisit record that refers to the earlier
capture (WARC-Refers-To-Target-URI and -Date, WARC-Refers-To when its record id is known).
The earlier captures come from the store's merged index; captures of the running crawl are added
as they are written. Memory: one entry (about 200 bytes) per distinct payload.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading

from archive.index import INDEX_KEY, CaptureEntry
from archive.storage import Storage, StorageError
from archive.warc import RevisitTarget

logger = logging.getLogger(__name__)

# An empty body costs nothing to store again: a revisit for it would only add a lookup.
_EMPTY_SHA1 = bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890afd80709")


def _digest_key(digest: str) -> bytes | None:
    """The raw SHA-1 of a ``sha1:BASE32`` (or bare base32) payload digest; None for others."""
    algorithm, _, value = digest.rpartition(":")
    if algorithm.lower() not in ("", "sha1") or len(value) != 32:
        return None
    try:
        raw = base64.b32decode(value.upper())
    except (binascii.Error, ValueError):
        return None
    return None if raw == _EMPTY_SHA1 else raw


def _iso(timestamp: str) -> str:
    t = timestamp
    return f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"


class PayloadIndex:
    """Digest of an archived payload -> the capture that holds it (URL, WARC-Date, record id)."""

    def __init__(self) -> None:
        self._known: dict[bytes, tuple[str, str, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    @classmethod
    def from_store(cls, storage: Storage, key: str = INDEX_KEY) -> PayloadIndex:
        """The payloads of every committed crawl in the store's merged index (empty without one)."""
        index = cls()
        if not storage.exists(key):
            logger.info(
                "No %s in %s: payloads of earlier crawls are not deduplicated", key, storage.uri
            )
            return index
        try:
            with storage.open(key) as fh:
                for line in fh:
                    try:
                        entry = CaptureEntry.from_line(line)
                    except (ValueError, KeyError):
                        continue
                    if not entry.is_revisit and entry.status is not None:
                        index.add(entry.digest, entry.url, _iso(entry.timestamp))
        except (StorageError, OSError) as exc:
            logger.warning("Cannot read %s (%s): payloads of earlier crawls stored again", key, exc)
        return index

    def add(self, digest: str | None, url: str, date: str, record_id: str = "") -> None:
        """Remember a full capture; the first one of a payload is the one revisits refer to."""
        raw = _digest_key(digest or "")
        if raw is not None:
            with self._lock:
                self._known.setdefault(raw, (url, date, record_id))

    def target(self, digest: str) -> RevisitTarget | None:
        """The earlier capture a body with ``digest`` repeats, or None when it is new."""
        raw = _digest_key(digest)
        found = self._known.get(raw) if raw is not None else None
        if found is None:
            return None
        url, date, record_id = found
        return RevisitTarget(record_id, url, date)
