"""The catalogue of archived articles, built from the committed crawls' clean-text records: word
search in title and text (SQLite FTS5), filters by site and language, pagination."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.crawl import committed_crawls, iter_text_records, unreadable_objects
from archive.storage import Storage

if TYPE_CHECKING:
    from typing import Self

logger = logging.getLogger(__name__)

_ARTICLE_ID = re.compile(r"^[0-9a-f]{32}$")
_WORD = re.compile(r"\w+", re.UNICODE)
_SCHEMA = """
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, url TEXT, canonical_url TEXT, title TEXT,
    site TEXT, language TEXT, date TEXT, fetched TEXT, captures INTEGER, standfirst TEXT,
    authors TEXT, crawl_id TEXT
);
CREATE INDEX articles_date ON articles (date DESC, title);
-- Contentless: the text lives in the store, only its word index here.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='', tokenize='unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    """An article as the catalogue lists it: its latest capture's metadata, and how many."""

    id: str
    url: str
    canonical_url: str
    title: str
    site: str
    language: str
    date: str  # date_published, or when it was fetched (ISO 8601)
    fetched: str
    captures: int
    standfirst: str
    authors: tuple[str, ...]
    crawl_id: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results."""

    articles: tuple[ArticleSummary, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def fts_query(words: str) -> str | None:
    """User words as an FTS5 query: every word must match, the last one as a prefix.

    Each word is quoted, so no user input reaches FTS5 as syntax.
    """
    tokens = _WORD.findall(words)[:20]
    if not tokens:
        return None
    quoted = [f'"{token}"' for token in tokens]
    quoted[-1] += "*"
    return " ".join(quoted)


class ArticleCatalog:
    """A searchable list of articles in a private SQLite file; close() removes it."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="lifegate-catalog-", dir=directory)
        self._db = sqlite3.connect(Path(self._tmp.name) / "catalog.sqlite", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.problems: list[str] = []  # what load() could not read, one line each

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def from_store(
        cls, storage: Storage, progress: Callable[[str], None] | None = None
    ) -> ArticleCatalog:
        """The articles of every committed crawl; an article captured again counts once."""
        catalog = cls()
        try:
            catalog.load(storage, progress)
        except BaseException:
            catalog.close()
            raise
        return catalog

    def load(self, storage: Storage, progress: Callable[[str], None] | None = None) -> int:
        committed = committed_crawls(storage)
        # Pass 1: the latest record of each article and its number of captures (no text kept).
        latest: dict[str, tuple[str, str, int]] = {}
        counts: dict[str, int] = {}
        for crawl_id in committed:
            self.problems += unreadable_objects(storage, crawl_id, ("text",))
            for number, record in enumerate(iter_text_records(storage, crawl_id, self.problems)):
                article_id = str(record.get("id", ""))
                if not _ARTICLE_ID.match(article_id):
                    continue
                fetched = _fetched(record)
                counts[article_id] = counts.get(article_id, 0) + 1
                if article_id not in latest or fetched >= latest[article_id][0]:
                    latest[article_id] = (fetched, crawl_id, number)
        chosen = {(crawl_id, number): aid for aid, (_, crawl_id, number) in latest.items()}
        # Pass 2: those records, with their text for the word index.
        with self._lock, self._db:
            for crawl_id in committed:
                for number, record in enumerate(iter_text_records(storage, crawl_id)):
                    chosen_id = chosen.get((crawl_id, number))
                    if chosen_id is not None:
                        self._insert(record, chosen_id, counts[chosen_id], crawl_id)
                if progress:
                    progress(f"catalogue: {crawl_id}")
        return len(latest)

    def _insert(self, record: dict, article_id: str, captures: int, crawl_id: str) -> None:
        fetched = _fetched(record)
        title = str(record.get("title") or record.get("url") or "")
        cursor = self._db.execute(
            "INSERT INTO articles (id, url, canonical_url, title, site, language, date, fetched,"
            " captures, standfirst, authors, crawl_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article_id,
                str(record.get("url") or ""),
                str(record.get("canonical_url") or record.get("url") or ""),
                title,
                str(record.get("site") or ""),
                str(record.get("language") or record.get("declared_language") or ""),
                str(record.get("date_published") or fetched),
                fetched,
                captures,
                str(record.get("standfirst") or ""),
                json.dumps(
                    [str(a) for a in record.get("authors") or []]
                    if isinstance(record.get("authors"), list)
                    else []
                ),
                crawl_id,
            ),
        )
        self._db.execute(
            "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
            (cursor.lastrowid, title, str(record.get("text") or "")),
        )

    def search(
        self,
        words: str = "",
        *,
        site: str | None = None,
        language: str | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> SearchPage:
        """Articles matching every word (title or text) and the filters, newest first."""
        where, params = [], []
        query = fts_query(words)
        if query:
            where.append("rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.append(query)
        if site:
            where.append("site = ?")
            params.append(site)
        if language:
            where.append("language = ?")
            params.append(language)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        page = max(1, page)
        with self._lock:
            count = self._db.execute(f"SELECT count(*) FROM articles {clause}", params)
            total = count.fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM articles {clause} ORDER BY date DESC, title"
                " LIMIT ? OFFSET ?",
                [*params, per_page, (page - 1) * per_page],
            ).fetchall()
        return SearchPage(tuple(_summary(row) for row in rows), total, page, per_page)

    def per_month(self, by: str) -> dict[str, dict[str, int]]:
        """Articles per month of publication, split by ``site`` or ``language``."""
        if by not in ("site", "language"):
            raise ValueError(by)
        with self._lock:
            rows = self._db.execute(
                f"SELECT substr(date, 1, 7), {by}, count(*) FROM articles GROUP BY 1, 2 ORDER BY 1"
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for month, key, count in rows:
            out.setdefault(month or "?", {})[key or "?"] = count
        return out

    def captures_per_day(self) -> dict[str, dict[str, int]]:
        """Captures of the listed articles per day of their latest fetch, split by site."""
        with self._lock:
            rows = self._db.execute(
                "SELECT substr(fetched, 1, 10), site, sum(captures) FROM articles GROUP BY 1, 2 ORDER BY 1"
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for day, site, count in rows:
            out.setdefault(day or "?", {})[site or "?"] = count
        return out

    def exclude(self, predicate: Callable[[ArticleSummary], bool]) -> int:
        """Drop the articles ``predicate`` names (taken down); returns how many."""
        with self._lock:
            rows = self._db.execute(f"SELECT rowid, {_COLUMNS} FROM articles").fetchall()
            gone = [(row[0],) for row in rows if predicate(_summary(row[1:]))]
            self._db.executemany("DELETE FROM articles WHERE rowid = ?", gone)
        return len(gone)

    def get(self, article_id: str) -> ArticleSummary | None:
        if not _ARTICLE_ID.match(article_id):
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
        return _summary(row) if row else None

    def facets(self) -> tuple[list[str], list[str]]:
        """The sites and the languages present, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT site FROM articles ORDER BY 1")
            sites = [r[0] for r in rows]
            langs = self._db.execute("SELECT DISTINCT language FROM articles ORDER BY 1")
            languages = [r[0] for r in langs]
        return [s for s in sites if s], [lang for lang in languages if lang]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]


def _fetched(record: dict) -> str:
    crawl = record.get("crawl")
    return str(crawl.get("fetched") or "") if isinstance(crawl, dict) else ""


_COLUMNS = (
    "id, url, canonical_url, title, site, language, date, fetched, captures, standfirst,"
    " authors, crawl_id"
)


def _summary(row: tuple) -> ArticleSummary:
    (aid, url, canonical, title, site, language, date, fetched, captures, standfirst, authors,
     crawl_id) = row  # fmt: skip
    return ArticleSummary(
        aid, url, canonical, title, site, language, date, fetched, captures, standfirst,
        tuple(json.loads(authors or "[]")), crawl_id,
    )  # fmt: skip
