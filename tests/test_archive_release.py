"""Release safety: immutability, deltas, takedowns, interrupted exports, verified downloads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archive.dataset import (
    DatasetError,
    ExportOptions,
    list_releases,
    read_release_manifest,
    to_row,
)
from archive.release import export_release
from archive.storage import FileStorage
from tests.builders import add_crawl, alias_args, aliases, fixture_store, parquet_rows, run


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_exporting_an_empty_archive_fails_clearly(tmp_path, capsys):
    code, _, err = run(capsys, "export", "--store", str(tmp_path / "empty"))
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("lifegate-archive export: no committed crawls in ")


def test_a_release_never_changes_once_published(it_crawl, fixture_site, tmp_path, capsys):
    store = fixture_store(tmp_path / "store", it_crawl)
    assert run(capsys, "export", "--store", str(store), "--name", "v1")[0] == 0
    before = tree(store / "datasets" / "v1")
    (store / "takedown.txt").write_text(it_crawl.text_records[0]["url"] + "\n")
    code, _, err = run(capsys, "export", "--store", str(store), "--name", "v1")
    assert code == 1 and "release v1 already exists" in err and "releases never change" in err
    assert tree(store / "datasets" / "v1") == before


def test_second_release_lists_added_changed_and_removed_rows(
    it_crawl, en_crawl, republication_crawl, fixture_site, tmp_path, capsys
):
    store = fixture_store(tmp_path / "store", it_crawl, en_crawl)
    names = alias_args(fixture_site)
    assert run(capsys, "export", "--store", str(store), "--name", "v1", *names)[0] == 0
    # Later: the republications are crawled, one Italian article is updated and republished in
    # Italian elsewhere, and one English article is taken down.
    fixture_store(store, republication_crawl)
    updated = dict(it_crawl.text_records[1])
    updated["text"] += "\nAggiornamento: il testo è stato corretto."
    updated["crawl"] = {**updated["crawl"], "fetched": "2099-01-01T00:00:00+00:00"}
    copy_url = "http://127.0.0.1:9/it/copia-di-un-articolo/"
    source = it_crawl.text_records[2]
    text = source["text"] + "\nFonte: LifeGate, ripubblicato con licenza CC-BY-SA."
    copy = {**source, "id": "c" * 32, "url": copy_url, "canonical_url": copy_url, "text": text,
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "license": "CC-BY-SA",
            "translation_of": source["url"]}
    add_crawl(store, "20990101T000000Z-lifegate", [updated, copy], warcs_from=it_crawl.crawl_dir)
    gone = en_crawl.text_records[0]
    (store / "takedown.txt").write_text(f"# legal request 2099-01\n{gone['url']}\n")
    code, out, err = run(capsys, "export", "--store", str(store), "--name", "v2", *names)
    assert code == 0, err
    assert "+8 ~1 -1 since v1" in out and "1 near duplicates merged" in out

    storage = FileStorage(str(store))
    manifest = read_release_manifest(storage, "v2")
    assert manifest.previous == "v1" and manifest.delta == {"added": 8, "changed": 1, "removed": 1}
    delta = [json.loads(line) for line in (store / "datasets/v2/delta.jsonl").read_text().splitlines()]
    changed = [d for d in delta if d["change"] == "changed"]
    assert changed == [{"id": updated["id"], "change": "changed",
                        "file": "data/lifegate.it/it/part-00000.parquet"}]
    assert [d for d in delta if d["change"] == "removed"] == [
        {"id": gone["id"], "change": "removed", "reason": "taken-down"}]
    rows = {r["id"]: r for r in parquet_rows(store / "datasets" / "v2")}
    assert gone["id"] not in rows and rows[updated["id"]]["crawl_id"] == "20990101T000000Z-lifegate"
    original = rows[it_crawl.text_records[2]["id"]]
    assert [d["url"] for d in original["duplicates"]] == [copy_url]
    assert [m.name for m in list_releases(storage)] == ["v1", "v2"]


class CrashingStorage(FileStorage):
    """A store whose process dies (here: raises) while publishing the n-th file."""

    def __init__(self, uri: str, fail_at: int) -> None:
        super().__init__(uri)
        self.puts, self.fail_at = 0, fail_at

    def put_file(self, key, path):
        self.puts += 1
        if self.puts == self.fail_at:
            partial = self._path(key + ".part")
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(b"half a file")
            raise OSError("killed")
        return super().put_file(key, path)


def test_an_interrupted_export_publishes_nothing_and_a_rerun_cleans_up(
    it_crawl, republication_crawl, fixture_site, tmp_path, capsys
):
    store = fixture_store(tmp_path / "store", it_crawl, republication_crawl)
    crashing = CrashingStorage(str(store), fail_at=4)
    with pytest.raises(OSError):
        export_release(crashing, ExportOptions("v1", site_aliases=aliases(fixture_site)))
    folder = store / "datasets" / "v1"
    assert len(list(folder.rglob("*.parquet"))) >= 1 and not (folder / "manifest.json").exists()
    assert list_releases(FileStorage(str(store))) == []
    code, _, err = run(capsys, "download", "v1", "--store", str(store), "--to", str(tmp_path / "dl"))
    assert code == 1 and "no release 'v1'" in err and "none published" in err
    stale = folder / "data" / "stale.parquet"  # what an older, differently sharded attempt left
    stale.write_bytes(b"x")
    code, _, err = run(capsys, "export", "--store", str(store), "--name", "v1", *alias_args(fixture_site))
    assert code == 0 and "removed" in err and "interrupted export of v1" in err
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(tree(folder)) == {f["path"] for f in manifest["files"]} | {"manifest.json"}


def test_download_verifies_every_file_and_reports_a_corrupted_shard(it_crawl, tmp_path, capsys):
    store = fixture_store(tmp_path / "store", it_crawl)
    assert run(capsys, "export", "--store", str(store), "--name", "v1")[0] == 0
    code, out, _ = run(capsys, "download", "v1", "--store", str(store), "--to", str(tmp_path / "a"))
    assert code == 0 and out.strip().endswith(": OK")
    assert tree(tmp_path / "a" / "v1") == tree(store / "datasets" / "v1")
    code, out, _ = run(capsys, "download", "v1", "--store", str(store), "--to", str(tmp_path / "a"))
    assert code == 0 and "0 files fetched" in out  # a re-run resumes: intact files are kept

    shard = next((store / "datasets" / "v1" / "data").rglob("*.parquet"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    code, out, err = run(capsys, "download", "v1", "--store", str(store), "--to", str(tmp_path / "b"))
    assert code == 1 and "1 files failed" in out
    [line] = [x for x in err.splitlines() if "checksum mismatch" in x]
    assert line.startswith(f"lifegate-archive download: {shard.relative_to(store / 'datasets/v1').as_posix()}: ")
    assert not (tmp_path / "b" / "v1" / "manifest.json").exists()
    assert not list((tmp_path / "b").rglob("*.part"))


def test_downloading_an_unknown_release_fails_clearly(it_crawl, tmp_path, capsys):
    store = fixture_store(tmp_path / "store", it_crawl)
    assert run(capsys, "export", "--store", str(store), "--name", "v1")[0] == 0
    code, _, err = run(capsys, "download", "v9", "--store", str(store), "--to", str(tmp_path))
    assert code == 1
    assert err.strip() == f"lifegate-archive download: no release 'v9' in {store.resolve().as_uri()} (known: v1)"


def test_shards_stay_under_the_size_bound(it_crawl, tmp_path):
    store = fixture_store(tmp_path / "store", it_crawl)
    limit = 30_000
    manifest = export_release(
        FileStorage(str(store)), ExportOptions("small", max_shard_bytes=limit, row_group_rows=4)
    )
    parts = [f for f in manifest.files if f.kind == "parquet"]
    assert len(parts) > 2 and sum(f.rows for f in parts) == 30
    for entry in parts:
        # A shard rolls over once it reaches the bound: past it by at most one row group + footer.
        meta = pq.ParquetFile(store / "datasets" / "small" / entry.path).metadata
        group = meta.row_group(meta.num_row_groups - 1)
        last_group = sum(group.column(i).total_compressed_size for i in range(group.num_columns))
        assert entry.size - meta.serialized_size - last_group < limit


def test_a_release_name_that_could_escape_the_store_is_refused(it_crawl, tmp_path):
    store = fixture_store(tmp_path / "store", it_crawl)
    with pytest.raises(DatasetError, match="not a release name"):
        export_release(FileStorage(str(store)), ExportOptions("../x"))
    row = to_row(it_crawl.text_records[0], it_crawl.crawl_dir.name)
    assert row["provenance"]["warc_key"].startswith("crawls/")
