"""FixtureSite: the mutable catalogue of the three imitated sites and the way to serve it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fixture_site.content import (
    SEQ_ADDED,
    SITES,
    ArticleFixture,
    ArticleStub,
    ExtraArticles,
    build_core,
    catalogue,
    new_article,
    seed_data,
)
from fixture_site.prose import slugify
from fixture_site.server import RunningSite

Entry = ArticleFixture | ArticleStub

CORE_IT_ARTICLES = len(catalogue()["it"])
CORE_EN_ARTICLES = len(catalogue()["en"])
# Publication date of the first added article on an otherwise empty site.
FIRST_ADDED_PUBLISHED = datetime(2024, 6, 25, 8, 0, tzinfo=UTC)
SMALL_SITEMAP_PAGE = 20
LARGE_SITEMAP_PAGE = 1000


class FixtureSite:
    """Deterministic content of lifegate.it, lifegate.com and a republisher, servable on loopback.

    `it_articles` beyond the curated thirty and `extra_articles` are generated Italian
    archive articles whose pages are rendered only when requested.
    """

    def __init__(
        self,
        it_articles: int = CORE_IT_ARTICLES,
        en_articles: int = CORE_EN_ARTICLES,
        extra_articles: int = 0,
        include_faults: bool = False,
        *,
        sitemap_page_size: int | None = None,
    ) -> None:
        if min(it_articles, en_articles, extra_articles) < 0:
            raise ValueError("article counts must not be negative")
        self.include_faults = include_faults
        self._lock = threading.RLock()
        core = build_core(min(it_articles, CORE_IT_ARTICLES), en_articles)
        self._core: dict[str, dict[str, ArticleFixture]] = {
            key: {a.path: a for a in core[key]} for key in SITES
        }
        extra = extra_articles + max(0, it_articles - CORE_IT_ARTICLES)
        self._extras = ExtraArticles(extra)
        self._removed: set[tuple[str, str]] = set()
        self._added = 0
        self._version = 0
        self._cache: dict[tuple[Any, ...], Any] = {}
        total_it = len(self._core["it"]) + len(self._extras)
        self.sitemap_page_size = sitemap_page_size or (
            SMALL_SITEMAP_PAGE if total_it <= LARGE_SITEMAP_PAGE else LARGE_SITEMAP_PAGE
        )

    # -- reading -----------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped by every mutation; caches and listings key on it."""
        return self._version

    @property
    def articles(self) -> list[ArticleFixture]:
        """Every live article: it (curated, then generated), en, republisher.

        With thousands of generated articles this renders every body; prefer `entries`.
        """
        out = list(self._core["it"].values())
        out += [self.resolve(stub) for stub in self._live_extras()]
        return out + list(self._core["en"].values()) + list(self._core["republisher"].values())

    @property
    def seed_article(self) -> ArticleFixture:
        return self.article(seed_data()["url_path"], site="republisher")

    def article(self, path: str, site: str | None = None) -> ArticleFixture:
        return self._find(path, site)[1]

    def lookup(self, site: str, path: str) -> ArticleFixture | None:
        """The live article at `path` on `site`, or None (missing or removed)."""
        if (site, path) in self._removed:
            return None
        found = self._core[site].get(path)
        if found is None and site == "it":
            position = self._extras.index.get(path)
            if position is not None:
                found = self._extras.article(position)
        return found

    def is_removed(self, site: str, path: str) -> bool:
        return (site, path) in self._removed

    def resolve(self, entry: Entry) -> ArticleFixture:
        if isinstance(entry, ArticleFixture):
            return entry
        return self._extras.article(self._extras.index[entry.path])

    def entries(self, site: str) -> list[Entry]:
        """Live articles of a site, newest first (stubs for generated ones)."""

        def build() -> list[Entry]:
            live: list[Entry] = list(self._core[site].values())
            if site == "it":
                live += self._live_extras()
            live = [e for e in live if (site, e.path) not in self._removed]
            return sorted(live, key=lambda e: (e.published, e.post_id), reverse=True)

        return self._cached(("entries", site), build)

    def by_post_id(self, site: str, post_id: int) -> Entry | None:
        return self._cached(
            ("post_ids", site), lambda: {e.post_id: e for e in self.entries(site)}
        ).get(post_id)

    def grouped(self, site: str, facet: str) -> dict[str, tuple[str, list[Entry]]]:
        """Entries by category, tag or author slug: slug -> (display name, newest first)."""

        def build() -> dict[str, tuple[str, list[Entry]]]:
            groups: dict[str, tuple[str, list[Entry]]] = {}
            for entry in self.entries(site):
                names = (
                    entry.tags
                    if facet == "tag"
                    else [entry.author]
                    if facet == "author"
                    else [entry.category]
                )
                for name in names:
                    slug = name if facet == "category" else slugify(name)
                    groups.setdefault(slug, (name, []))[1].append(entry)
            return groups

        return self._cached(("grouped", site, facet), build)

    def sitemap_entries(self, site: str) -> list[Entry]:
        """Entries oldest-modified first, the order Yoast pages its post sitemaps in."""
        return self._cached(
            ("sitemap", site),
            lambda: sorted(self.entries(site), key=lambda e: (e.modified, e.post_id)),
        )

    def related(self, article: ArticleFixture, count: int = 4) -> list[ArticleFixture]:
        """The next articles of the same category, wrapping around; never the article itself."""
        group = self.grouped(article.site, "category").get(article.category, ("", []))[1]
        positions = self._cached(
            ("positions", article.site, article.category),
            lambda: {e.path: i for i, e in enumerate(group)},
        )
        start = positions.get(article.path, -1)
        picked: list[ArticleFixture] = []
        for step in range(1, len(group) + 1):
            entry = group[(start + step) % len(group)]
            if entry.path != article.path:
                picked.append(self.resolve(entry))
            if len(picked) == count:
                break
        return picked

    def next_older(self, article: ArticleFixture) -> ArticleFixture | None:
        entries = self.entries(article.site)
        positions = self._cached(
            ("positions", article.site), lambda: {e.path: i for i, e in enumerate(entries)}
        )
        if len(entries) < 2:
            return None
        i = positions.get(article.path, -1)
        entry = entries[(i + 1) % len(entries)]
        return None if entry.path == article.path else self.resolve(entry)

    def most_read(self, site: str, count: int = 5) -> list[ArticleFixture]:
        # A fixed pseudo-random pick of curated articles, as stable as a real "most read".
        core = [a for a in self._core[site].values() if (site, a.path) not in self._removed]
        return sorted(core, key=lambda a: (a.post_id * 2654435761) % 2**32)[:count]

    def translations(self, article: ArticleFixture) -> list[ArticleFixture]:
        """lifegate.it <-> lifegate.com counterparts of an article (hreflang alternates)."""
        index = self._cached(("translations",), self._translation_index)
        return index.get((article.site, article.path), [])

    def _translation_index(self) -> dict[tuple[str, str], list[ArticleFixture]]:
        index: dict[tuple[str, str], list[ArticleFixture]] = {}
        for en in self._core["en"].values():
            if not en.translation_of or ("en", en.path) in self._removed:
                continue
            original = self.lookup("it", en.translation_of)
            if original is not None:
                index.setdefault(("it", original.path), []).append(en)
                index.setdefault(("en", en.path), []).append(original)
        return index

    # -- mutating ----------------------------------------------------------------------

    def update_article(
        self, path: str, *, site: str | None = None, **changes: Any
    ) -> ArticleFixture:
        """Replace fields of an article; without an explicit `modified`, it moves a day on."""
        if {"site", "path"} & changes.keys():
            raise ValueError("an article's site and path cannot change; remove and add instead")
        unknown = changes.keys() - {f.name for f in dataclass_fields(ArticleFixture)}
        if unknown:
            raise TypeError(f"unknown ArticleFixture fields: {sorted(unknown)}")
        with self._lock:
            key, current = self._find(path, site)
            changes.setdefault("modified", current.modified + timedelta(days=1))
            updated = replace(current, **changes)
            self._core[key][path] = updated
            self._bump()
            return updated

    def remove_article(self, path: str, *, site: str | None = None) -> ArticleFixture:
        """Take an article down: its URL answers 410 Gone and it leaves listings and sitemaps."""
        with self._lock:
            key, current = self._find(path, site)
            self._core[key].pop(path, None)
            self._removed.add((key, path))
            self._bump()
            return current

    def add_article(
        self, article: ArticleFixture | None = None, /, **fields: Any
    ) -> ArticleFixture:
        """Publish a new article: a given ArticleFixture, or a generated one with `fields`.

        Generated articles default to the "it" site, the next post id, and a publication
        date one day after the newest article so they top the feeds.
        """
        with self._lock:
            if article is None:
                site = fields.pop("site", "it")
                entries = self.entries(site)
                newest = entries[0].published if entries else None
                published = fields.pop("published", None) or (
                    newest + timedelta(days=1) if newest else FIRST_ADDED_PUBLISHED
                )
                self._added += 1
                article = new_article(
                    site, self._next_post_id(site), SEQ_ADDED + self._added, published, fields
                )
                if self.lookup(site, article.path) is not None and "path" not in fields:
                    suffix = 2
                    while self.lookup(site, f"{article.path.rstrip('/')}-{suffix}") is not None:
                        suffix += 1
                    article = replace(
                        article,
                        path=f"{article.path.rstrip('/')}-{suffix}"
                        + ("/" if article.path.endswith("/") else ""),
                    )
            elif fields:
                article = replace(article, **fields)
            if article.site not in SITES:
                raise ValueError(f"unknown site {article.site!r}")
            if self.lookup(article.site, article.path) is not None:
                raise ValueError(f"{article.site} already has an article at {article.path}")
            if article.post_id <= 0:
                article = replace(article, post_id=self._next_post_id(article.site))
            self._core[article.site][article.path] = article
            self._removed.discard((article.site, article.path))
            self._bump()
            return article

    # -- serving -----------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningSite:
        """Start the three servers ("it" on `port`, "en" on port+1, "republisher" on port+2)."""
        from fixture_site.republisher import RepublisherApp
        from fixture_site.routes import LifegateApp

        def factory(key: str, bases: Mapping[str, str]) -> Callable:
            if key == "republisher":
                return RepublisherApp(self, bases)
            return LifegateApp(key, self, bases)

        return RunningSite(host, port, SITES, factory)

    # -- internals ---------------------------------------------------------------------

    def _live_extras(self) -> list[ArticleStub]:
        core_it = self._core["it"]
        return [
            s
            for s in self._extras.stubs
            if s.path not in core_it and ("it", s.path) not in self._removed
        ]

    def _find(self, path: str, site: str | None) -> tuple[str, ArticleFixture]:
        keys = [site] if site else list(SITES)
        hits = [(k, a) for k in keys if (a := self.lookup(k, path)) is not None]
        if not hits:
            raise KeyError(f"no live article at {path!r}" + (f" on {site}" if site else ""))
        if len(hits) > 1:
            raise KeyError(f"{path!r} exists on several sites; pass site=")
        return hits[0]

    def _next_post_id(self, site: str) -> int:
        ids = [a.post_id for a in self._core[site].values()]
        return max(ids, default=1000) + 1

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        with self._lock:
            full_key = (self._version, *key)
            if full_key not in self._cache:
                self._cache[full_key] = build()
            return self._cache[full_key]

    def _bump(self) -> None:
        self._version += 1
        self._cache.clear()
