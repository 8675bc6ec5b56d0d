"""The replay server: a Flask app over a store that shows the archived articles, replays captures
with their links rewritten into the archive, answers Memento (RFC 7089) and serves raw records.

Captures are read by byte range from WARC files the crawl manifests list; nothing is ever
fetched from the live web, and nothing in the store is written. The routes come in three
families: browsing (:mod:`.browse`), wayback replay (:mod:`.wayback`) and Memento
(:mod:`.memento`), over the shared application (:mod:`.app`).
"""

from __future__ import annotations

from archive.replay.app import DECODE_BUDGET, UI_CSP, ReplayApp
from archive.replay.target import MAX_URL_LENGTH, ascii_int
from archive.replay.wayback import REPLAY_CSP, replay_headers

__all__ = [
    "DECODE_BUDGET",
    "MAX_URL_LENGTH",
    "REPLAY_CSP",
    "UI_CSP",
    "ReplayApp",
    "ascii_int",
    "replay_headers",
]
