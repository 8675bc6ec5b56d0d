"""Article model and the deterministic catalogue of lifegate.it, lifegate.com and the republisher.

Benchmark articles are cheap stubs whose bodies are generated only when a page asks.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from threading import Lock
from typing import Any, NamedTuple

from fixture_site.prose import (
    DATA_DIR,
    Focus,
    ProseWriter,
    bank,
    place_name,
    plan_article,
    slugify,
    title_for,
    topic_label,
    topics,
)

SITES = ("it", "en", "republisher")
LIFEGATE_COM_LICENSE = "CC BY-NC-ND 4.0"
REPUBLISHER_LICENSE = "CC-BY-SA"

# Post ids grow with publication date like WordPress auto-increment ids; each site has
# its own database, hence its own range. Benchmark articles count down below the core.
_POST_ID_BASE = {"it": 213000, "en": 48200, "republisher": 91000}
_POST_ID_STEP = {"it": 17, "en": 11, "republisher": 13}
EXTRA_POST_ID_TOP = 212900
MAX_EXTRA_ARTICLES = EXTRA_POST_ID_TOP // 2 - 1

# `seq` numbers every generated body; it is folded into every figure in the text, so
# distinct seqs on one site can never produce the same paragraph.
_SEQ_EN_ORIGINALS = 61
_SEQ_REPUBLISHER_ORIGINALS = 81
_SEQ_EXTRAS = 101
_SEQ_EN_EXTRAS = 2_000_000
SEQ_ADDED = 5_000_000

# Benchmark articles are dated back from just before the oldest core article.
EXTRAS_NEWEST = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
EXTRAS_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class ArticleFixture:
    """One article as published on one of the imitated sites, and the text it should yield."""

    site: str
    path: str
    lang: str
    post_id: int
    title: str
    kicker: str
    standfirst: list[str]
    blocks: list[dict[str, Any]]
    tags: list[str]
    category: str
    author: str
    published: datetime
    modified: datetime
    license: str | None = None
    translation_of: str | None = None
    credits_lifegate: bool = False
    hero: dict[str, str] | None = field(default=None, compare=False)

    def __hash__(self) -> int:
        # Lists make the generated field hash fail; these fields identify a version.
        return hash((self.site, self.path, self.modified))

    @property
    def slug(self) -> str:
        return self.path.strip("/").rsplit("/", 1)[-1]

    def url(self, base_urls: Mapping[str, str]) -> str:
        return base_urls[self.site] + self.path

    def expected_text_lines(self) -> list[str]:
        """Clean text of the body, one line per block; figures and the standfirst excluded."""
        lines: list[str] = []
        for block in self.blocks:
            kind = block["type"]
            if kind == "ul":
                lines.extend(f"- {item}" for item in block["items"])
            elif kind != "figure":
                lines.append(block["text"])
        return lines

    @property
    def etag(self) -> str:
        """Strong validator derived from the article itself, not from the page around it.

        Sidebars and related cards change when other articles do; tying the ETag to the
        model keeps 304s predictable for incremental-crawl tests.
        """
        payload = json.dumps(
            [
                self.site,
                self.path,
                self.modified.isoformat(),
                self.title,
                self.kicker,
                self.standfirst,
                self.blocks,
                self.tags,
                self.category,
                self.author,
            ],
            ensure_ascii=False,
            sort_keys=True,
        )
        return '"' + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:24] + '"'


class ArticleStub(NamedTuple):
    """Listing/sitemap view of a benchmark article: everything but the generated text."""

    site: str
    path: str
    lang: str
    post_id: int
    title: str
    kicker: str
    tags: tuple[str, ...]
    category: str
    author: str
    published: datetime
    modified: datetime
    hero: dict[str, str]


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    with (DATA_DIR / "catalogue.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def seed_data() -> dict[str, Any]:
    with (DATA_DIR / "seed_article.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def category_slug(topic: str, site: str, lang: str) -> str:
    if site == "it":
        return topic
    if site == "en":
        return bank()["topics"][topic]["en_slug"]
    return slugify(topic_label(topic, lang))


def image_base(slug: str, published: datetime) -> str:
    return f"/app/uploads/{published:%Y/%m}/{slug}"


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _assign_post_ids(site: str, articles: list[ArticleFixture]) -> list[ArticleFixture]:
    """Number posts by publication order (oldest lowest) and return them newest first."""
    ordered = sorted(articles, key=lambda a: (a.published, a.path))
    base, step = _POST_ID_BASE[site], _POST_ID_STEP[site]
    numbered = [replace(a, post_id=base + step * rank) for rank, a in enumerate(ordered)]
    return numbered[::-1]


def _generated(
    entry: dict[str, Any],
    *,
    site: str,
    lang: str,
    seq: int,
    focus: Focus,
    plan_year: int,
    images: str,
    credit_style: str,
) -> dict[str, Any]:
    writer = ProseWriter(plan_article(focus, seq, plan_year), lang, credit_style)
    return {
        "standfirst": entry.get("standfirst") or writer.standfirst(),
        "blocks": entry.get("blocks") or writer.blocks(images),
        "hero": entry.get("hero") or writer.hero(images + ".jpg"),
    }


def _focus(entry: dict[str, Any]) -> Focus:
    return Focus(entry["topic"], entry["place"], entry["subject"])


def _lifegate_article(
    entry: dict[str, Any],
    site: str,
    seq: int,
    focus: Focus,
    images: str,
    *,
    plan_year: int,
    **fields: Any,
) -> ArticleFixture:
    """One curated lifegate.it or lifegate.com article: its entry's fields and generated body."""
    body = _generated(
        entry, site=site, lang=site, seq=seq, focus=focus, plan_year=plan_year, images=images,
        credit_style="lifegate",
    )  # fmt: skip
    return ArticleFixture(
        site=site, path="/" + entry["slug"], lang=site, post_id=0, title=entry["title"],
        kicker=entry["kicker"], tags=list(entry["tags"]), author=entry["author"], **fields, **body,
    )  # fmt: skip


def build_core(it_count: int, en_count: int) -> dict[str, list[ArticleFixture]]:
    """The hand-curated articles of the three sites, newest first per site."""
    data = catalogue()
    it_entries = data["it"]
    it_by_slug = {e["slug"]: (k, e) for k, e in enumerate(it_entries)}
    present = {e["slug"] for e in it_entries[:it_count]}

    it_articles = []
    for k, entry in enumerate(it_entries[:it_count]):
        published = _when(entry["published"])
        modified = (
            _when(entry["modified"])
            if "modified" in entry
            else (published + timedelta(hours=(k * 5) % 26))
        )
        it_articles.append(
            _lifegate_article(
                entry, "it", k + 1, _focus(entry), image_base(entry["slug"], published),
                plan_year=published.year, category=entry["topic"], published=published,
                modified=modified,
            )
        )  # fmt: skip

    en_articles = []
    for k, entry in enumerate(data["en"][:en_count]):
        published = _when(entry["published"])
        original = entry.get("translation_of")
        if original:
            ok, source = it_by_slug[original]
            seq, source_date = ok + 1, _when(source["published"])
            images, focus = image_base(original, source_date), _focus(source)
        else:
            seq, source_date = _SEQ_EN_ORIGINALS + k, published
            images, focus = image_base(entry["slug"], published), _focus(entry)
        en_articles.append(
            _lifegate_article(
                entry, "en", seq, focus, images,
                plan_year=source_date.year, category=category_slug(focus.topic, "en", "en"),
                published=published, modified=published + timedelta(hours=2 + k % 3),
                license=LIFEGATE_COM_LICENSE,
                translation_of=("/" + original) if original in present else None,
            )
        )  # fmt: skip
    en_articles += _english_extras(max(0, en_count - len(data["en"])))

    return {
        "it": _assign_post_ids("it", it_articles),
        "en": _assign_post_ids("en", en_articles),
        "republisher": _assign_post_ids("republisher", _republications(it_by_slug)),
    }


def _republications(it_by_slug: dict[str, tuple[int, dict[str, Any]]]) -> list[ArticleFixture]:
    data = catalogue()
    out = []
    for k, entry in enumerate(data["republisher"]):
        lang = entry["lang"]
        published = _when(entry["published"])
        original = entry.get("translation_of")
        author = data["authors"][lang][0]
        if entry.get("seed"):
            seed = seed_data()
            source = it_by_slug[original][1]
            figures = [b for b in seed["blocks"] if b["type"] == "figure"]
            out.append(
                ArticleFixture(
                    site="republisher",
                    path=seed["url_path"],
                    lang=lang,
                    post_id=0,
                    title=seed["title"],
                    kicker=seed["kicker"],
                    standfirst=list(seed["standfirst"]),
                    blocks=[dict(b) for b in seed["blocks"]],
                    tags=["Russland", "Nordkorea"],
                    category=category_slug(source["topic"], "republisher", lang),
                    author=author,
                    published=published,
                    modified=published + timedelta(hours=1),
                    license=seed["license"],
                    translation_of="/" + original,
                    credits_lifegate=True,
                    hero={"src": figures[0]["src"]} if figures else None,
                )
            )
            continue
        if original:
            ok, source = it_by_slug[original]
            seq, focus = ok + 1, _focus(source)
            source_date = _when(source["published"])
            images = image_base(original, source_date)
        else:
            seq, focus, source_date = _SEQ_REPUBLISHER_ORIGINALS + k, _focus(entry), published
            images = image_base(entry["slug"], published)
        body = _generated(
            entry,
            site="republisher",
            lang=lang,
            seq=seq,
            focus=focus,
            plan_year=source_date.year,
            images=images,
            credit_style="republisher",
        )
        body["hero"] = {"src": body["hero"]["src"]}
        out.append(
            ArticleFixture(
                site="republisher",
                path=f"/{lang}/{entry['slug']}/",
                lang=lang,
                post_id=0,
                title=entry["title"],
                kicker=entry["kicker"],
                tags=[entry["kicker"]],
                category=category_slug(focus.topic, "republisher", lang),
                author=author,
                published=published,
                modified=published + timedelta(hours=1),
                license=REPUBLISHER_LICENSE,
                translation_of=("/" + original) if original else None,
                credits_lifegate=bool(original),
                **body,
            )
        )
    return out


def _mixed_radix(idx: int) -> tuple[Focus, int, int]:
    """Map an index to (focus, title template, cycle) so titles repeat only every cycle."""
    names = topics()
    n_titles, n_places = len(bank()["titles"]), len(bank()["places"])
    n_subjects = len(bank()["topics"][names[0]]["subjects"])
    topic = names[idx % len(names)]
    j = idx // len(names)
    template = j % n_titles
    place = (j // n_titles) % n_places
    subject = (j // (n_titles * n_places)) % n_subjects
    cycle = j // (n_titles * n_places * n_subjects)
    return Focus(topic, place, subject), template, cycle


def _english_extras(count: int) -> list[ArticleFixture]:
    """English originals beyond the curated ten, for callers asking for more en articles."""
    authors = catalogue()["authors"]["en"]
    out = []
    oldest = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    for k in range(count):
        focus, template, cycle = _mixed_radix(k * 7 + 3)
        published = oldest - timedelta(days=k + 1)
        title = title_for(focus, template, "en")
        if cycle:
            title = f"{title} \u2013 part {cycle + 1}"
        slug = slugify(title)
        seq = _SEQ_EN_EXTRAS + k
        body = _generated(
            {},
            site="en",
            lang="en",
            seq=seq,
            focus=focus,
            plan_year=published.year,
            images=image_base(slug, published),
            credit_style="lifegate",
        )
        tags = bank()["topics"][focus.topic]["tags"]["en"]
        out.append(
            ArticleFixture(
                site="en",
                path="/" + slug,
                lang="en",
                post_id=0,
                title=title,
                kicker=topic_label(focus.topic, "en"),
                tags=list(tags),
                category=category_slug(focus.topic, "en", "en"),
                author=authors[k % len(authors)],
                published=published,
                modified=published,
                license=LIFEGATE_COM_LICENSE,
                **body,
            )
        )
    return out


class ExtraArticles:
    """Italian benchmark articles: stubs built up front, bodies generated when requested."""

    CACHE_SIZE = 2048

    def __init__(self, count: int, first_index: int = 0) -> None:
        if count > MAX_EXTRA_ARTICLES:
            raise ValueError(f"at most {MAX_EXTRA_ARTICLES} extra articles are supported")
        self.stubs: list[ArticleStub] = []
        self.index: dict[str, int] = {}
        self._focus: list[tuple[Focus, int]] = []
        self._cache: OrderedDict[int, ArticleFixture] = OrderedDict()
        self._lock = Lock()
        authors = catalogue()["authors"]["it"]
        for idx in range(first_index, first_index + count):
            focus, template, cycle = _mixed_radix(idx)
            # Strictly decreasing: the jitter never exceeds the step.
            published = EXTRAS_NEWEST - idx * EXTRAS_STEP - timedelta(minutes=(idx * 7) % 60)
            modified = published + timedelta(hours=(idx * 13) % 40)
            title = title_for(focus, template, "it")
            if cycle:  # titles stay unique past one full turn of the combinations
                title = f"{title} \u2013 parte {cycle + 1}"
            slug = slugify(title)
            self.index["/" + slug] = len(self.stubs)
            self._focus.append((focus, idx))
            self.stubs.append(
                ArticleStub(
                    site="it",
                    path="/" + slug,
                    lang="it",
                    post_id=EXTRA_POST_ID_TOP - 2 * idx,
                    title=title,
                    kicker=place_name(focus.place, "it"),
                    tags=tuple(bank()["topics"][focus.topic]["tags"]["it"]),
                    category=focus.topic,
                    author=authors[(idx // 3) % len(authors)],
                    published=published,
                    modified=modified,
                    hero={"src": image_base(slug, published) + ".jpg"},
                )
            )

    def __len__(self) -> int:
        return len(self.stubs)

    def article(self, position: int) -> ArticleFixture:
        with self._lock:
            cached = self._cache.get(position)
            if cached is not None:
                self._cache.move_to_end(position)
                return cached
        stub = self.stubs[position]
        focus, idx = self._focus[position]
        images = image_base(stub.path.lstrip("/"), stub.published)
        body = _generated(
            {},
            site="it",
            lang="it",
            seq=_SEQ_EXTRAS + idx,
            focus=focus,
            plan_year=stub.published.year,
            images=images,
            credit_style="lifegate",
        )
        article = ArticleFixture(
            site="it",
            path=stub.path,
            lang="it",
            post_id=stub.post_id,
            title=stub.title,
            kicker=stub.kicker,
            tags=list(stub.tags),
            category=stub.category,
            author=stub.author,
            published=stub.published,
            modified=stub.modified,
            **body,
        )
        with self._lock:
            self._cache[position] = article
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return article


def new_article(
    site: str, post_id: int, seq: int, published: datetime, fields: Mapping[str, Any]
) -> ArticleFixture:
    """A fresh generated article for `FixtureSite.add_article`, overridable field by field."""
    lang = fields.get("lang") or {"it": "it", "en": "en"}.get(site, "de")
    focus, template, _ = _mixed_radix(seq)
    title = fields.get("title") or title_for(focus, template, lang)
    slug = slugify(title)
    path = fields.get("path") or (f"/{lang}/{slug}/" if site == "republisher" else "/" + slug)
    images = image_base(slug, published)
    body = _generated(
        {},
        site=site,
        lang=lang,
        seq=seq,
        focus=focus,
        plan_year=published.year,
        images=images,
        credit_style="republisher" if site == "republisher" else "lifegate",
    )
    defaults: dict[str, Any] = {
        "site": site,
        "path": path,
        "lang": lang,
        "post_id": post_id,
        "title": title,
        "kicker": topic_label(focus.topic, lang),
        "tags": list(bank()["topics"][focus.topic]["tags"]["en" if lang == "en" else "it"]),
        "category": category_slug(focus.topic, site, lang),
        "author": catalogue()["authors"].get(lang, ["Redazione"])[0],
        "published": published,
        "modified": published,
        "license": {"en": LIFEGATE_COM_LICENSE, "republisher": REPUBLISHER_LICENSE}.get(site),
        **body,
    }
    defaults.update({k: v for k, v in fields.items() if k not in ("site",)})
    return ArticleFixture(**defaults)
