"""Dataset releases made from the fixture site: rows, provenance, splits, loading, card, re-extraction."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.dataset import (
    ExportOptions,
    list_releases,
    read_release_manifest,
    select_rows,
)
from archive.reader import read_response
from archive.storage import FileStorage
from archive.takedown import TakedownList
from cli import main
from tests.builders import add_crawl, alias_args, aliases, fixture_store, parquet_rows, run

RELEASE = "v2026.11.28"


@pytest.fixture(scope="module")
def release(it_crawl, en_crawl, republication_crawl, fixture_site, tmp_path_factory):
    store = fixture_store(tmp_path_factory.mktemp("dataset-store"), it_crawl, en_crawl, republication_crawl)
    assert main(["export", "--store", str(store), "--name", RELEASE, *alias_args(fixture_site)]) == 0
    return store, store / "datasets" / RELEASE


def test_every_committed_article_becomes_one_row_with_its_fields(release, it_crawl, en_crawl, republication_crawl):
    store, folder = release
    manifest = read_release_manifest(FileStorage(str(store)), RELEASE)
    records = it_crawl.text_records + en_crawl.text_records + republication_crawl.text_records
    rows = {r["id"]: r for r in parquet_rows(folder)}
    assert set(rows) == {r["id"] for r in records} and manifest.rows == len(records)
    for record in records:
        row = rows[record["id"]]
        assert row["text"] == record["text"] and row["title"] == record["title"]
        assert row["extractor"]["config_hash"] == record["extractor"]["config_hash"]
        assert row["provenance"]["record_id"] == record["provenance"]["record_id"]
    assert manifest.counts["by_site"] == {"gratisforgratis.com": 8, "lifegate.com": 10, "lifegate.it": 30}
    assert manifest.counts["by_language"] == {"de": 5, "en": 10, "fr": 3, "it": 30}
    assert manifest.delta == {"added": len(records), "changed": 0, "removed": 0}


def test_a_byte_range_read_of_any_row_gives_back_its_exact_warc_record(release):
    store, folder = release
    storage = FileStorage(str(store))
    for row in parquet_rows(folder):
        prov = row["provenance"]
        assert prov["warc_key"].startswith(f"crawls/{row['crawl_id']}/warc/")
        data = storage.read_range(prov["warc_key"], prov["offset"], prov["length"])
        assert data[:2] == b"\x1f\x8b"  # one whole gzip member
        [record] = list(ArchiveIterator(io.BytesIO(data)))
        assert record.rec_headers.get_header("WARC-Record-ID") == prov["record_id"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == prov["payload_digest"]
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        response = read_response(storage, prov)
        assert response.status == 200 and row["title"].split()[0].encode() in response.decoded()


def test_rows_are_split_by_site_and_language_in_both_formats(release):
    import pyarrow.parquet as pq

    store, folder = release
    manifest = read_release_manifest(FileStorage(str(store)), RELEASE)
    data = [f for f in manifest.files if f.kind in ("parquet", "jsonl")]
    assert {(f.site, f.language) for f in data} == {
        ("lifegate.it", "it"), ("lifegate.com", "en"), ("gratisforgratis.com", "de"),
        ("gratisforgratis.com", "fr"),
    }
    for entry in data:
        path = folder / entry.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
        assert path.stat().st_size == entry.size
        if entry.kind == "parquet":
            assert entry.path == f"data/{entry.site}/{entry.language}/part-00000.parquet"
            rows = pq.read_table(path).to_pylist()
            assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
        else:
            rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        assert len(rows) == entry.rows and {(r["site"], r["language"]) for r in rows} == {(entry.site, entry.language)}
    jsonl = {}
    for path in (folder / "jsonl").rglob("*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            jsonl[row["id"]] = row
    # The same rows; Parquet holds the UTC timestamps that JSON spells as strings.
    stamps = ("date_published", "date_modified", "fetched")
    assert jsonl == {
        r["id"]: {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if k in stamps and v else v for k, v in r.items()}
        for r in parquet_rows(folder)
    }


def test_release_loads_with_pyarrow_pandas_duckdb_and_datasets(release, tmp_path, monkeypatch):
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq

    _, folder = release
    assert pq.read_table(folder / "data").num_rows == 48
    frame = pd.read_parquet(folder / "data")
    assert frame.groupby("language").size().to_dict() == {"de": 5, "en": 10, "fr": 3, "it": 30}
    pattern = (folder / "data" / "*" / "*" / "*.parquet").as_posix()
    counts = duckdb.sql(f"select site, count(*) from '{pattern}' group by site order by site").fetchall()
    assert counts == [("gratisforgratis.com", 8), ("lifegate.com", 10), ("lifegate.it", 30)]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at import: set before it
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    italian = datasets.load_dataset(
        "parquet", data_files=str(folder / "data" / "*" / "it" / "*.parquet"),
        split="train", cache_dir=str(tmp_path / "hf"),
    )
    assert italian.num_rows == 30 and set(italian["language"]) == {"it"}


def test_dataset_card_has_hugging_face_front_matter_counts_and_attribution(release):
    yaml = pytest.importorskip("yaml")
    _, folder = release
    card = (folder / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["language"] == ["de", "en", "fr", "it"]
    assert set(meta["license"]) == {"cc-by-nc-nd-4.0", "cc-by-sa-4.0", "other"}
    assert "text-generation" in meta["task_categories"]
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in meta["configs"]}
    assert configs["default"] == "data/*/*/*.parquet" and configs["de"] == "data/*/de/*.parquet"
    assert configs["lifegate.it"] == "data/lifegate.it/*/*.parquet"
    assert "| lifegate.com | CC BY-NC-ND 4.0 | 10 |" in body and "| 2024-06 |" in body
    assert "Near duplicates" in body and "@misc{" in body
    for row in parquet_rows(folder):
        if row["site"] == "gratisforgratis.com" and row["translation_of"]:
            assert row["license"] == "CC-BY-SA" and row["attribution"].endswith(
                f"CC-BY-SA; translation of {row['translation_of']}")
        if row["site"] == "lifegate.com":
            assert "LifeGate" in row["attribution"] and "CC BY-NC-ND 4.0" in row["attribution"]


def test_takedown_list_takes_urls_prefixes_and_ids_with_comments(tmp_path):
    storage = FileStorage(str(tmp_path))
    assert not TakedownList.from_store(storage)
    storage.put_bytes(
        "takedown.txt",
        (
            b"# requests handled by the operator\n"
            b"https://WWW.lifegate.it/some-article/   # asked 2026-11-01\n"
            b"lifegate.com/private/*\n"
            b"\n0123456789abcdef0123456789abcdef\nnot a url\n"
        ),
    )
    takedowns = TakedownList.from_store(storage)
    assert len(takedowns) == 4  # the URL, its article id, the prefix and the id; "not a url" ignored
    assert takedowns.blocks_url("https://www.lifegate.it/some-article")
    assert takedowns.blocks_url("https://www.lifegate.it/some-article/#comments")
    assert takedowns.blocks_url("http://lifegate.it/Some-Article?utm_source=x")
    assert not takedowns.blocks_url("https://www.lifegate.it/other-article")
    assert not takedowns.blocks_url("https://www.lifegate.it/some-article-2")
    assert takedowns.blocks_url("https://www.lifegate.com/private/a/b")
    assert not takedowns.blocks_url("https://www.lifegate.com/privateer")
    assert takedowns.blocks_record({"id": "0123456789abcdef0123456789abcdef", "url": "x"})
    assert takedowns.blocks_record({"id": "f" * 32, "canonical_url": "https://www.lifegate.it/some-article/"})
    assert not takedowns.blocks_record({"id": "f" * 32, "url": "https://example.org/"})
    assert not TakedownList.parse("# only a comment\n")


def test_newest_capture_wins_and_filters_apply(it_crawl, fixture_site, tmp_path):
    store = fixture_store(tmp_path / "store", it_crawl)
    newer = [dict(r) for r in it_crawl.text_records[:2]]
    for record in newer:
        record["crawl"] = {**record["crawl"], "fetched": "2099-01-01T00:00:00+00:00"}
        record["date_published"] = "2025-02-01T00:00:00+00:00"
    add_crawl(store, "20990101T000000Z-lifegate", newer, warcs_from=it_crawl.crawl_dir)
    storage = FileStorage(str(store))
    selection = select_rows(storage, ExportOptions("x", site_aliases=aliases(fixture_site)))
    by_id = {r["id"]: r for r in selection.rows}
    assert len(by_id) == 30 and selection.stats["superseded_captures"] == 2
    assert {by_id[r["id"]]["crawl_id"] for r in newer} == {"20990101T000000Z-lifegate"}
    from datetime import date

    recent = select_rows(storage, ExportOptions("x", since=date(2025, 1, 1)))
    assert {r["id"] for r in recent.rows} == {r["id"] for r in newer}
    assert recent.stats["filtered_since"] == 28
    assert select_rows(storage, ExportOptions("x", languages=frozenset({"en"}))).rows == []


def test_reextract_rebuilds_the_same_text_from_the_warcs_and_export_uses_it(
    it_crawl, republication_crawl, fixture_site, tmp_path, capsys
):
    store = fixture_store(tmp_path / "store", it_crawl, republication_crawl)
    code, _, err = run(capsys, "export", "--store", str(store), "--from-reextract", "--name", "a")
    assert code == 1 and "run `lifegate-archive reextract` first" in err and len(err.splitlines()) == 1
    code, out, _ = run(capsys, "reextract", "--store", str(store), "--workers", "2")
    assert code == 0 and "re-extracted 38 of 38 pages from 2 crawls" in out
    config_hash = it_crawl.text_records[0]["extractor"]["config_hash"]
    for crawl in (it_crawl, republication_crawl):
        path = store / "reextract" / config_hash / f"{crawl.crawl_dir.name}.jsonl"
        rebuilt = [json.loads(line) for line in path.read_text().splitlines()]
        assert rebuilt == crawl.text_records  # same extractor, same bytes: the same records
    index = json.loads((store / "reextract" / config_hash / "manifest.json").read_text())
    assert index["config_hash"] == config_hash and len(index["crawls"]) == 2
    code, out, _ = run(capsys, "reextract", "--store", str(store))
    assert code == 0 and "from 0 crawls" in out  # already done for this configuration
    code, _, err = run(capsys, "export", "--store", str(store), "--from-reextract", "--name", "b",
                       *alias_args(fixture_site))
    assert code == 0, err
    manifest = read_release_manifest(FileStorage(str(store)), "b")
    assert manifest.sources["reextracted"] == manifest.sources["crawls"]
    assert "re-extracted from the WARC files" in (store / "datasets" / "b" / "README.md").read_text()


def test_releases_are_listed_oldest_first_for_the_replay_server(release):
    store, _ = release
    releases = list_releases(FileStorage(str(store)))
    assert [m.name for m in releases][:1] == [RELEASE]
    assert releases[0].files and releases[0].counts["rows"] == 48


def test_each_crawl_names_its_site_whatever_host_served_it(
    it_crawl, en_crawl, republication_crawl, tmp_path
):
    # All three fixture sites are served from 127.0.0.1; the crawls were for named sites.
    for crawl, name in ((it_crawl, "lifegate.it"), (en_crawl, "lifegate.com"),
                        (republication_crawl, "gratisforgratis.com")):  # fmt: skip
        assert crawl.text_records and {r["site"] for r in crawl.text_records} == {name}
        assert all(urlsplit(r["url"]).hostname == "127.0.0.1" for r in crawl.text_records)
    store = fixture_store(tmp_path / "store", it_crawl, en_crawl, republication_crawl)
    selection = select_rows(FileStorage(str(store)), ExportOptions("x"))  # no --site-alias
    assert {r["site"] for r in selection.rows} == {"lifegate.it", "lifegate.com", "gratisforgratis.com"}
