"""Deduplication: republished copies merge into the original, translations never do."""

from __future__ import annotations

import hashlib

from archive.dataset import to_row
from archive.dedup import DedupConfig, deduplicate, shingles
from tests.builders import aliases


def rows_of(crawl, fixture_site) -> list[dict]:
    return [to_row(r, crawl.crawl_dir.name, aliases(fixture_site)) for r in crawl.text_records]


def copy_of(row: dict, url: str, **changes) -> dict:
    copy = {**row, "id": hashlib.sha256(url.encode()).hexdigest()[:32], "url": url,
            "canonical_url": url, **changes}
    copy["text_sha256"] = hashlib.sha256(copy["text"].encode()).hexdigest()
    return copy


def test_an_italian_republication_merges_into_its_lifegate_original(it_crawl, fixture_site):
    rows = rows_of(it_crawl, fixture_site)
    original = rows[0]
    republished = copy_of(
        original, "https://www.gratisforgratis.com/it/copia/",
        site="gratisforgratis.com", license="CC-BY-SA", translation_of=original["url"],
        fetched="2099-01-01T00:00:00+00:00", date_modified="2099-01-01T00:00:00+00:00",
        text=original["text"] + "\nFonte: LifeGate, articolo ripubblicato con licenza CC-BY-SA.",
    )
    result = deduplicate([*rows, republished])
    assert len(result.rows) == len(rows)
    kept = next(r for r in result.rows if r["id"] == original["id"])
    [duplicate] = kept["duplicates"]
    assert duplicate["id"] == republished["id"] and duplicate["kind"] == "near"
    assert 0.8 <= duplicate["similarity"] < 1.0
    assert result.merged == {republished["id"]: original["id"]}
    assert result.stats["near_duplicates"] == 1 and result.stats["exact_duplicates"] == 0


def test_exact_copies_keep_the_newest_then_the_longest(it_crawl, fixture_site):
    row = rows_of(it_crawl, fixture_site)[3]
    older = copy_of(row, "https://a.example/x", site="a.example", fetched="2025-01-01T00:00:00+00:00",
                    date_modified=None, date_published=None)
    newer = copy_of(row, "https://b.example/x", site="b.example", fetched="2026-01-01T00:00:00+00:00",
                    date_modified=None, date_published=None)
    result = deduplicate([older, newer])
    assert [r["id"] for r in result.rows] == [newer["id"]]
    assert result.rows[0]["duplicates"][0]["kind"] == "exact"
    shorter = copy_of(row, "https://c.example/x", site="c.example", text=row["text"][:-40])
    longer = copy_of(row, "https://d.example/x", site="d.example")
    assert [r["id"] for r in deduplicate([shorter, longer]).rows] == [longer["id"]]


def test_a_german_translation_is_not_a_near_duplicate_of_the_italian_original(
    it_crawl, republication_crawl, fixture_site
):
    italian, foreign = rows_of(it_crawl, fixture_site), rows_of(republication_crawl, fixture_site)
    result = deduplicate(italian + foreign)
    assert len(result.rows) == len(italian) + len(foreign) and not result.merged
    german = next(r for r in foreign if r["language"] == "de" and r["translation_of"])
    source = next(r for r in italian if r["url"] == german["translation_of"])
    a, b = shingles(german["text"], 5), shingles(source["text"], 5)
    assert len(a & b) / len(a | b) < 0.05  # even under one language label they share nothing


def test_distinct_articles_of_one_site_stay_apart(it_crawl, en_crawl, fixture_site):
    rows = rows_of(it_crawl, fixture_site) + rows_of(en_crawl, fixture_site)
    result = deduplicate(rows, DedupConfig(threshold=0.5))
    assert len(result.rows) == len(rows) and result.stats["near_rate"] == 0.0
