"""The article ledger: every article the crawls have seen, what was captured, and when to look again.

The store is the source of truth: each crawl commits a journal (``crawls/<id>/ledger.jsonl``) with
its manifest, and the ledger is a local SQLite cache built by replaying committed journals in crawl
order. A missing or damaged cache is rebuilt; several machines reading one store build the same one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.crawl import committed_crawls, iter_jsonl, iter_text_records, ledger_key, warc_key
from archive.storage import Storage, capabilities

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS applied (crawl_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY,
    canonical_url TEXT,
    post_id TEXT,
    site TEXT,
    sources TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    last_checked TEXT,
    date_published TEXT,
    sitemap_lastmod TEXT,
    etag TEXT,
    last_modified TEXT,
    payload_digest TEXT,
    text_sha256 TEXT,
    record_id TEXT,
    record_date TEXT,
    status TEXT NOT NULL DEFAULT 'unarchived',
    gone_since TEXT,
    versions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS captures (
    url TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    fetched TEXT NOT NULL,
    kind TEXT NOT NULL,
    http_status INTEGER,
    payload_digest TEXT,
    text_sha256 TEXT,
    text_changed INTEGER NOT NULL DEFAULT 0,
    warc_key TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    record_id TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url, fetched);
"""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | float) -> timedelta:
    """``"90s"``, ``"1h"``, ``"7d"``, ``"2w"`` (or a number of seconds) as a timedelta."""
    if isinstance(text, (int, float)):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 1h, 7d, 2w)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RecrawlPolicy:
    """When to look at a known article again, by its age (news changes early, then settles).

    ``intervals`` are (age limit, recheck interval) pairs in increasing age; past the last limit an
    article is rechecked only when its sitemap ``lastmod`` changes. Gone articles likewise.
    """

    intervals: tuple[tuple[timedelta, timedelta], ...] = (
        (timedelta(days=1), timedelta(hours=1)),
        (timedelta(days=7), timedelta(days=1)),
        (timedelta(days=30), timedelta(days=7)),
        (timedelta(days=365), timedelta(days=30)),
    )

    @classmethod
    def from_pairs(cls, pairs: Iterable[Sequence[str | float]]) -> RecrawlPolicy:
        intervals = tuple((parse_duration(age), parse_duration(every)) for age, every in pairs)
        if list(intervals) != sorted(intervals, key=lambda pair: pair[0]):
            raise ValueError("recrawl intervals must be in increasing order of age")
        return cls(intervals)

    def interval(self, age: timedelta) -> timedelta | None:
        for limit, every in self.intervals:
            if age < limit:
                return every
        return None


@dataclass(frozen=True, slots=True)
class ArticleState:
    """What the ledger knows of one article URL."""

    url: str
    status: str
    first_seen: str
    last_checked: str | None
    date_published: str | None
    sitemap_lastmod: str | None
    etag: str | None
    last_modified: str | None
    payload_digest: str | None
    text_sha256: str | None
    record_id: str | None
    record_date: str | None
    sources: str
    versions: int

    @property
    def archived(self) -> bool:
        return self.record_id is not None

    def due(self, now: datetime, policy: RecrawlPolicy, sitemap_lastmod: str | None = None) -> bool:
        """Whether to fetch it again now."""
        if not self.archived:
            return True
        if sitemap_lastmod and sitemap_lastmod != self.sitemap_lastmod:
            return True
        if self.status == "gone":
            return False
        born = _parse_time(self.date_published) or _parse_time(self.first_seen) or now
        every = policy.interval(now - born)
        if every is None:
            return False
        checked = _parse_time(self.last_checked)
        return checked is None or now - checked >= every


def capture_from_text_record(crawl_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """The journal event a text record implies (used when the journal line itself was lost)."""
    provenance = record.get("provenance") or {}
    crawl = record.get("crawl") or {}
    event: dict[str, Any] = {
        "type": "capture",
        "url": record["url"],
        "kind": "response",
        "fetched": crawl.get("fetched"),
        "http_status": crawl.get("status"),
        "payload_digest": provenance.get("payload_digest"),
        "text_sha256": record.get("text_sha256"),
        "canonical_url": record.get("canonical_url"),
        "site": record.get("site"),
        "date_published": record.get("date_published"),
        "sitemap_lastmod": crawl.get("sitemap_lastmod"),
    }
    if provenance.get("warc_file"):
        event["warc"] = {
            "key": warc_key(crawl_id, provenance["warc_file"]),
            "offset": provenance.get("offset"),
            "length": provenance.get("length"),
            "record_id": provenance.get("record_id"),
        }
    return event


class Ledger:
    """SQLite cache of the committed journals. Not thread-safe: use it from one thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self._connect()
        # A crawl asks about every URL it requests, and most are not articles: answering those
        # from a set spares a query each.
        self._urls: set[str] | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if version is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"ledger schema {version[0]}, expected {SCHEMA_VERSION}")
        return db

    def close(self) -> None:
        self.db.close()

    # --- building from the store -------------------------------------------------------------

    @classmethod
    def open_synced(cls, path: Path, storage: Storage) -> Ledger:
        """Open the cache at ``path`` and apply every committed crawl it has not seen.

        A cache that cannot be read is thrown away and rebuilt from the store.
        """
        try:
            ledger = cls(path)
            ledger.sync(storage)
            return ledger
        except sqlite3.DatabaseError as exc:
            logger.warning(
                "Ledger cache %s is damaged (%s); rebuilding it from the store", path, exc
            )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            ledger = cls(path)
            ledger.sync(storage)
            return ledger

    def sync(self, storage: Storage) -> list[str]:
        """Apply committed crawls not applied yet, oldest first; returns their ids."""
        applied = {row[0] for row in self.db.execute("SELECT crawl_id FROM applied")}
        done = []
        for crawl_id in committed_crawls(storage):
            if crawl_id in applied:
                continue
            key = ledger_key(crawl_id)
            self.db.execute("BEGIN")
            try:
                captured = set()
                if storage.exists(key):
                    for event in iter_jsonl(storage, key):
                        if event.get("type") == "capture":
                            captured.add(event["url"])
                        self.apply(crawl_id, event)
                # A run killed between writing a text record and its journal line: the text
                # record (committed by recovery) still proves the capture.
                for record in iter_text_records(storage, crawl_id):
                    if record.get("url") not in captured:
                        self.apply(crawl_id, capture_from_text_record(crawl_id, record))
                self.db.execute("INSERT INTO applied VALUES (?)", (crawl_id,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            done.append(crawl_id)
        return done

    def apply(self, crawl_id: str, event: dict[str, Any]) -> None:
        """Apply one journal event: ``seen``, ``capture`` or ``gone``."""
        kind = event.get("type")
        url = event["url"]
        self._urls = None
        time = event.get("time") or event.get("fetched") or datetime.now(UTC).isoformat()
        self.db.execute(
            "INSERT INTO articles (url, first_seen, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            (url, time, time),
        )
        if kind == "seen":
            row = self.db.execute("SELECT sources FROM articles WHERE url=?", (url,)).fetchone()
            sources = set(filter(None, row[0].split(","))) | set(event.get("sources", []))
            self.db.execute(
                "UPDATE articles SET sources=? WHERE url=?", (",".join(sorted(sources)), url)
            )
            if event.get("sitemap_lastmod"):
                self.db.execute(
                    "UPDATE articles SET sitemap_lastmod=? WHERE url=?",
                    (event["sitemap_lastmod"], url),
                )
        elif kind == "capture":
            self._apply_capture(crawl_id, url, time, event)
        elif kind == "gone":
            self.db.execute(
                "UPDATE articles SET status='gone', last_checked=?, "
                "gone_since=coalesce(gone_since, ?) WHERE url=?",
                (time, time, url),
            )

    def _apply_capture(self, crawl_id: str, url: str, time: str, event: dict[str, Any]) -> None:
        previous = self.db.execute(
            "SELECT text_sha256, versions FROM articles WHERE url=?", (url,)
        ).fetchone()
        text_sha = event.get("text_sha256") or previous["text_sha256"]
        text_changed = (
            bool(event.get("text_sha256")) and event["text_sha256"] != previous["text_sha256"]
        )
        warc = event.get("warc") or {}
        self.db.execute(
            "INSERT INTO captures VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                url,
                crawl_id,
                time,
                event["kind"],
                event.get("http_status"),
                event.get("payload_digest"),
                text_sha,
                int(text_changed),
                warc.get("key"),
                warc.get("offset"),
                warc.get("length"),
                warc.get("record_id"),
            ),
        )
        updates: dict[str, Any] = {"last_checked": time, "gone_since": None}
        updates["status"] = "changed" if text_changed and previous["versions"] else "live"
        if text_changed:
            updates["versions"] = previous["versions"] + 1
            updates["text_sha256"] = text_sha
        for field in ("canonical_url", "post_id", "site", "date_published", "sitemap_lastmod"):
            if event.get(field):
                updates[field] = event[field]
        if event["kind"] == "response":
            # A full response is what later revisits refer to.
            updates.update(
                etag=event.get("etag"),
                last_modified=event.get("last_modified"),
                payload_digest=event.get("payload_digest"),
                record_id=warc.get("record_id"),
                record_date=event.get("warc_date") or time,
            )
        elif event["kind"] == "not-modified":
            updates["status"] = "live"
        assignments = ", ".join(f"{name}=?" for name in updates)
        self.db.execute(f"UPDATE articles SET {assignments} WHERE url=?", (*updates.values(), url))

    # --- queries -----------------------------------------------------------------------------

    def get(self, url: str) -> ArticleState | None:
        if self._urls is None:
            self._urls = {row[0] for row in self.db.execute("SELECT url FROM articles")}
        if url not in self._urls:
            return None
        row = self.db.execute(
            "SELECT url, status, first_seen, last_checked, date_published, sitemap_lastmod, etag, "
            "last_modified, payload_digest, text_sha256, record_id, record_date, sources, versions "
            "FROM articles WHERE url=?",
            (url,),
        ).fetchone()
        return ArticleState(**dict(row)) if row else None

    def due_urls(self, now: datetime, policy: RecrawlPolicy) -> Iterator[str]:
        """Archived articles due for a recheck, whether or not this run's discovery finds them
        (an article dropped from every listing must still be noticed when it goes)."""
        rows = self.db.execute(
            "SELECT url FROM articles WHERE record_id IS NOT NULL ORDER BY url"
        ).fetchall()
        for row in rows:
            state = self.get(row[0])
            if state is not None and state.due(now, policy):
                yield state.url

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every capture of ``url``, oldest first; ``text_changed`` marks a new version."""
        rows = self.db.execute("SELECT * FROM captures WHERE url=? ORDER BY fetched", (url,))
        return [dict(row) for row in rows]

    def coverage(self) -> dict[str, Any]:
        """Articles known from each source, archived or not, and the gaps."""
        by_source: dict[str, dict[str, int]] = {}
        gaps = []
        statuses: dict[str, int] = {}
        for row in self.db.execute("SELECT url, sources, record_id, status FROM articles"):
            archived = row["record_id"] is not None
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
            for source in filter(None, row["sources"].split(",")) or ["unknown"]:
                counts = by_source.setdefault(source, {"known": 0, "archived": 0})
                counts["known"] += 1
                counts["archived"] += int(archived)
            if not archived and row["status"] != "gone" and row["sources"]:
                gaps.append(row["url"])
        return {"by_source": by_source, "by_status": statuses, "gaps": sorted(gaps)}

    def iter_articles(self) -> Iterator[dict[str, Any]]:
        for row in self.db.execute("SELECT * FROM articles ORDER BY url"):
            yield dict(row)


def ledger_path(storage: Storage, state_dir: str | None) -> Path:
    """The ledger cache: next to a local store, or in a per-store folder of the state directory."""
    if state_dir:
        base = Path(state_dir).expanduser()
    elif (root := capabilities(storage).local_root) is not None:
        return root / ".state" / "ledger.sqlite"
    else:
        base = (
            Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
            / "lifegate-archive"
        )
    return base / hashlib.sha256(storage.uri.encode()).hexdigest()[:16] / "ledger.sqlite"
