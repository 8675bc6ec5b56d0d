"""A release loads as users load it, in both formats, with the same column types.

The release is built so that its first shard's rows have only empty lists and no dates (the case
where loaders that guess types from the first rows type a column as null and fail on the next).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.dataset import ExportOptions, row_date, utc_time
from archive.release import export_release
from archive.shard import ROW_SCHEMA
from archive.storage import FileStorage
from tests.builders import add_crawl

WORDS = [
    "acqua",
    "aria",
    "bosco",
    "clima",
    "energia",
    "foresta",
    "ghiacciaio",
    "mare",
    "natura",
    "oceano",
    "pianeta",
    "sole",
    "terra",
    "vento",
]


def _text(n: int) -> str:
    # Distinct texts, so near-duplicate detection keeps every row.
    digest = hashlib.sha256(str(n).encode()).digest()
    return " ".join(WORDS[b % len(WORDS)] + str(b) for b in digest * 2)


def _record(n: int, site: str, language: str, *, bare: bool) -> dict:
    url = f"https://www.{site}/articolo-{n}/"
    record: dict[str, Any] = {
        "id": hashlib.sha256(url.encode()).hexdigest()[:32],
        "url": url,
        "canonical_url": url,
        "site": site,
        "language": language,
        "title": f"Articolo {n}",
        "text": _text(n),
        "crawl": {"fetched": f"2026-11-2{n % 9}T10:00:0{n % 10}.123456+00:00"},
    }
    if not bare:
        record.update(
            authors=["Anna Rossi"],
            tags=["clima", "energia"],
            flags=["paywall-hint"],
            kicker="Clima",
            license="CC BY-NC-ND 4.0",
            images=[{"url": f"https://www.{site}/i{n}.jpg", "caption": None, "credit": "LifeGate"}],
            date_published="2024-06-01T00:30:00+02:00",
            date_modified="2024-06-02T08:00:00Z",
        )
    return record


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("loading-store")
    # "gratisforgratis.com/de" sorts first: every list empty, no date, no licence, no kicker.
    records = [_record(n, "gratisforgratis.com", "de", bare=True) for n in range(4)]
    records += [_record(n, "lifegate.it", "it", bare=False) for n in range(4, 10)]
    add_crawl(store, "20261128T100000Z-lifegate", records)
    options = ExportOptions("v1", created=datetime(2026, 11, 28, tzinfo=UTC))
    export_release(FileStorage(str(store)), options)
    return store / "datasets" / "v1"


def _card(path: Path) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text().split("---\n", 2)[1])


@pytest.fixture
def datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at import: set before it
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return pytest.importorskip("datasets")


# Rows of each config: everything, each language, each site.
EXPECTED_COUNTS = {"default": 10, "de": 4, "it": 6, "gratisforgratis.com": 4, "lifegate.it": 6}


def test_dates_are_utc_timestamps_with_the_page_zone_kept():
    assert utc_time("2024-06-01T00:30:00+02:00") == ("2024-05-31T22:30:00Z", "+02:00")
    assert utc_time("2024-06-02T08:00:00Z") == ("2024-06-02T08:00:00Z", "+00:00")
    assert utc_time("2024-06-02T08:00:00-03:30") == ("2024-06-02T11:30:00Z", "-03:30")
    assert utc_time("2024-06-01") == ("2024-06-01T00:00:00Z", None)
    assert utc_time("yesterday") == utc_time(None) == (None, None)
    # The local date counts (--since, monthly counts): published just after midnight in Italy.
    row = {
        "date_published": "2024-05-31T22:30:00Z",
        "date_published_offset": "+02:00",
        "fetched": "x",
    }
    assert row_date(row)[:10] == "2024-06-01"


def test_card_lists_the_type_of_every_column_for_every_config(release, datasets, tmp_path):
    expected = datasets.Features.from_arrow_schema(ROW_SCHEMA)
    assert expected["date_published"].dtype == "timestamp[us, tz=UTC]"
    for folder in (release, release / "jsonl"):
        meta = _card(folder / "README.md")
        configs = [c["config_name"] for c in meta["configs"]]
        assert configs == list(EXPECTED_COUNTS)
        assert [info["config_name"] for info in meta["dataset_info"]] == configs
        for name in configs:
            # What datasets reads from the card, before it opens a data file.
            builder = datasets.load_dataset_builder(
                str(folder), name, cache_dir=str(tmp_path / "hf")
            )
            assert builder.info.features == expected


def test_every_parquet_config_loads_with_datasets_without_arguments(release, datasets, tmp_path):
    meta = _card(release / "README.md")
    expected = datasets.Features.from_arrow_schema(ROW_SCHEMA)
    for config in meta["configs"]:
        name, pattern = config["config_name"], config["data_files"][0]["path"]
        plain = datasets.load_dataset(
            "parquet",
            data_files=str(release / pattern),
            split="train",
            cache_dir=str(tmp_path / "hf"),
        )
        by_card = datasets.load_dataset(
            str(release), name, split="train", cache_dir=str(tmp_path / "hf")
        )
        for loaded in (plain, by_card):
            assert loaded.num_rows == EXPECTED_COUNTS[name]
            assert loaded.features == expected


def test_every_jsonl_config_loads_with_the_json_builder_and_the_same_types(
    release, datasets, tmp_path
):
    meta = _card(release / "jsonl" / "README.md")
    parquet = datasets.load_dataset(str(release), split="train", cache_dir=str(tmp_path / "hf"))
    for config in meta["configs"]:
        name = config["config_name"]
        builder = datasets.load_dataset_builder(
            str(release / "jsonl"), name, cache_dir=str(tmp_path / "hf")
        )
        assert builder.name == "json"
        loaded = datasets.load_dataset(
            str(release / "jsonl"), name, split="train", cache_dir=str(tmp_path / "hf")
        )
        assert loaded.num_rows == EXPECTED_COUNTS[name]
        assert loaded.features == parquet.features
    every = datasets.load_dataset(
        str(release / "jsonl"), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert sorted(every.to_list(), key=lambda r: r["id"]) == sorted(
        parquet.to_list(), key=lambda r: r["id"]
    )
    row = next(r for r in every if r["site"] == "lifegate.it")
    assert row["date_published"] == datetime(2024, 5, 31, 22, 30, tzinfo=UTC)
    assert row["date_published_offset"] == "+02:00" and row["date_modified_offset"] == "+00:00"
    assert row["fetched"].tzinfo is not None and row["tags"] == ["clima", "energia"]
    bare = next(r for r in every if r["site"] == "gratisforgratis.com")
    assert (
        bare["tags"] == []
        and bare["date_published"] is None
        and bare["date_published_offset"] is None
    )


def test_duckdb_reads_the_same_timestamp_type_from_both_formats(release):
    duckdb = pytest.importorskip("duckdb")
    stamps = ("date_published", "date_modified", "fetched")
    types = {}
    for fmt, pattern in (("parquet", "data/*/*/*.parquet"), ("json", "jsonl/*/*/*.jsonl.gz")):
        relation = duckdb.sql(f"select {', '.join(stamps)} from '{(release / pattern).as_posix()}'")
        types[fmt] = [str(t) for t in relation.types]
    assert types["parquet"] == types["json"] == ["TIMESTAMP WITH TIME ZONE"] * 3
