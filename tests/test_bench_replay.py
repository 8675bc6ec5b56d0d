"""The replay benchmark's synthetic archive, and the replay server's read path on it: the index
the benchmark writes is the one `lifegate-archive index` builds, and the server's mapped, cached
index answers as the plain one does."""

from __future__ import annotations

from pathlib import Path

from archive.index import INDEX_KEY, CdxjIndex, iter_entries
from archive.indexer import build_indexes
from archive.replay import ReplayApp
from bench.replay_latency import synthetic_store

RECORDS = 40


def test_the_synthetic_index_is_the_index_the_project_builds(tmp_path):
    storage = synthetic_store(tmp_path / "store", RECORDS)
    written = (tmp_path / "store" / INDEX_KEY).read_bytes()
    build_indexes(storage)
    assert (tmp_path / "store" / INDEX_KEY).read_bytes() == written
    assert written.count(b"\n") == RECORDS


def test_the_server_index_answers_as_the_plain_index_and_replays(tmp_path):
    storage = synthetic_store(tmp_path / "store", RECORDS)
    path = Path(storage.root) / INDEX_KEY
    with path.open("rb") as fh:
        entries = list(iter_entries(fh))
    with ReplayApp(storage) as app, CdxjIndex(path) as plain:
        for entry in entries:
            for _ in range(2):  # the second answer comes from the cache
                assert app.index.lookup(entry.url) == plain.lookup(entry.url)
        first = app.index.lookup(entries[0].url)
        first.clear()  # callers may change what they get: the cache keeps its own
        assert app.index.lookup(entries[0].url) == plain.lookup(entries[0].url)
        client = app.flask.test_client()
        entry = entries[3]
        raw = client.get(f"/web/{entry.timestamp}id_/{entry.url}", headers={"Accept-Encoding": ""})
        rewritten = client.get(f"/web/{entry.timestamp}mp_/{entry.url}")
    assert raw.status_code == 200 and b"<title>Articolo" in raw.data
    assert b'href="/web/' in rewritten.data and b'href="/style.css"' not in rewritten.data
