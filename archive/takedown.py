"""The takedown list: pages withdrawn from every view of the archive (RFC 7725's 451).

Entries are URLs, URL prefixes (ending in ``*``) and article ids, one a line, ``#`` starting a
comment. URLs are compared by the SURT key the index uses (:func:`archive.index.surt_key`: scheme
and ``www`` dropped, host and path lower-cased, %-escapes decoded, default port, trailing slash and
fragment dropped), so every spelling that reaches a capture is refused as well as the listed one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from archive.index import surt_key, surt_prefix
from archive.storage import Storage

logger = logging.getLogger(__name__)

TAKEDOWN_KEY = "takedown.txt"
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def article_id(canonical_url: str) -> str:
    """The id the extractor gives an article: first 32 hex digits of sha256(canonical URL)."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def _bare(key: str) -> str:
    """A key without its query: ``page?utm=1`` is a spelling of ``page``."""
    return key.split("?", 1)[0]


class TakedownList:
    """Withdrawn URLs (by SURT key), URL prefixes (SURT key prefixes) and article ids.

    Empty lists are falsy; every check on one is free.
    """

    def __init__(
        self,
        keys: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        ids: Iterable[str] = (),
    ) -> None:
        self.keys = frozenset(keys)
        self.prefixes = tuple(sorted(set(prefixes)))
        self.ids = frozenset(ids)

    @classmethod
    def parse(cls, text: str) -> TakedownList:
        keys, prefixes, ids = set(), set(), set()
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            if _HEX_ID.match(entry.lower()):
                ids.add(entry.lower())
                continue
            if any(c.isspace() for c in entry):
                logger.warning("takedown list, line %d: ignoring %r (neither a URL nor an article id)",
                               number, entry[:200])  # fmt: skip
                continue
            url = entry if "://" in entry else f"http://{entry}"
            try:
                if entry.endswith("*"):
                    prefixes.add(surt_prefix(url[:-1]))
                else:
                    keys.add(surt_key(url))
                    ids.add(article_id(entry))  # the id of a canonical URL listed as is
            except ValueError:
                logger.warning("takedown list, line %d: ignoring %r (neither a URL nor an article id)",
                               number, entry[:200])  # fmt: skip
        return cls(keys, prefixes, ids)

    @classmethod
    def from_store(cls, storage: Storage, key: str = TAKEDOWN_KEY) -> TakedownList:
        """The store's list (empty when there is none)."""
        if not storage.exists(key):
            return cls()
        with storage.open(key) as fh:
            return cls.parse(fh.read().decode("utf-8", errors="replace"))

    def __bool__(self) -> bool:
        return bool(self.keys or self.prefixes or self.ids)

    def __len__(self) -> int:
        return len(self.keys) + len(self.prefixes) + len(self.ids)

    def blocks_key(self, urlkey: str) -> bool:
        """Whether a SURT key (an index line's first field) is withdrawn."""
        if not self:
            return False
        if urlkey in self.keys or _bare(urlkey) in self.keys:
            return True
        return any(urlkey.startswith(prefix) for prefix in self.prefixes)

    def blocks_url(self, url: str) -> bool:
        """Whether a URL is withdrawn; a URL with no SURT key (not http(s)) is compared by id."""
        if not self:
            return False
        try:
            key = surt_key(url)
        except ValueError:
            return article_id(url) in self.ids
        return self.blocks_key(key) or article_id(url) in self.ids

    def blocks_id(self, value: str) -> bool:
        return value in self.ids

    def blocks_record(self, record: Mapping[str, Any]) -> bool:
        """Whether a text record or dataset row (by ``id``, ``url`` or ``canonical_url``) is withdrawn."""
        if not self:
            return False
        if str(record.get("id") or "") in self.ids:
            return True
        return any(
            isinstance(record.get(name), str) and record[name] and self.blocks_url(record[name])
            for name in ("url", "canonical_url")
        )
