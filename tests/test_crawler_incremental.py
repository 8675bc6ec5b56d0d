"""Incremental runs: conditional rechecks, revisit records, new/changed/gone articles, the report."""

from __future__ import annotations

import json

from warcio.archiveiterator import ArchiveIterator

from archive.ledger import Ledger
from archive.storage import FileStorage
from archive.warc import PROFILE_SERVER_NOT_MODIFIED
from fixture_site import FixtureSite
from tests.conftest import crawl_command, finished_crawl, run_cli

EMPTY_PAYLOAD = "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"
ALWAYS_RECHECK = ["-s", 'ARCHIVE_RECRAWL_INTERVALS=[["100000d", "0s"]]']


def warc_records(crawl) -> list:
    out = []
    for path in crawl.warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit"):
                    out.append((record.rec_type, record.rec_headers, record.http_headers))
    return out


def test_second_run_archives_only_what_changed(tmp_path):
    site = FixtureSite(include_faults=False)
    store = tmp_path / "store"
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        first = finished_crawl(store, run_cli(*crawl_command(store, base, *ALWAYS_RECHECK)), "lifegate")
        articles = [a for a in site.articles if a.site == "it"]
        changed, removed = articles[3], articles[4]
        new_blocks = [*changed.blocks, {"type": "p", "text": "Aggiornamento: la notizia è stata aggiornata."}]
        site.update_article(changed.path, site="it", blocks=new_blocks)
        site.remove_article(removed.path, site="it")
        added = site.add_article()
        running.reset_requests()
        second = finished_crawl(store, run_cli(*crawl_command(store, base, *ALWAYS_RECHECK)), "lifegate")
        requests = running.requests

    assert second.crawl_dir != first.crawl_dir
    unchanged = [a for a in articles if a.path not in (changed.path, removed.path)]
    # Every known article was asked for conditionally.
    conditional = {e.path for e in requests if e.headers.get("If-None-Match")}
    assert {a.path for a in unchanged} | {changed.path} <= conditional
    # Unchanged pages became server-not-modified revisits pointing at the first capture.
    records = warc_records(second)
    revisits = {h.get_header("WARC-Target-URI"): h for kind, h, _ in records if kind == "revisit"}
    assert {base + a.path for a in unchanged} <= set(revisits)
    first_ids = {h.get_header("WARC-Record-ID") for kind, h, _ in warc_records(first)}
    for article in unchanged:
        header = revisits[base + article.path]
        assert header.get_header("WARC-Profile") == PROFILE_SERVER_NOT_MODIFIED
        assert header.get_header("WARC-Refers-To") in first_ids
        assert header.get_header("WARC-Refers-To-Target-URI") == base + article.path
        assert header.get_header("WARC-Refers-To-Date")
    # Only the changed and the new article have new text.
    assert {r["url"] for r in second.text_records} == {base + changed.path, base + added.path}
    report = json.loads((second.crawl_dir / "report.json").read_text())
    counts = report["articles"]
    assert (counts["new"], counts["changed"], counts["unchanged"], counts["gone"]) == (1, 1, len(unchanged), 1)
    assert report["ok"] and report["politeness"]["requests"] > 0
    # The ledger keeps the history of versions and the removal.
    ledger = Ledger(store / ".state" / "ledger.sqlite")
    try:
        history = ledger.history(base + changed.path)
        assert [c["kind"] for c in history] == ["response", "response"]
        assert [c["text_changed"] for c in history] == [1, 1]
        assert ledger.get(base + changed.path).versions == 2
        assert ledger.get(base + removed.path).status == "gone"
        assert ledger.get(base + articles[0].path).status == "live"
    finally:
        ledger.close()
    assert run_cli("verify", "--store", str(store)).returncode == 0


def test_a_recent_archive_is_not_refetched_and_the_ledger_rebuilds(tmp_path):
    site = FixtureSite(include_faults=False)
    store = tmp_path / "store"
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        finished_crawl(store, run_cli(*crawl_command(store, base)), "lifegate")
        # A lost cache is rebuilt from the store's committed journals.
        for path in (store / ".state").glob("ledger.sqlite*"):
            path.unlink()
        running.reset_requests()
        second = finished_crawl(store, run_cli(*crawl_command(store, base)), "lifegate")
        requests = running.requests
    article_paths = {a.path for a in site.articles if a.site == "it"}
    assert not [e for e in requests if e.path in article_paths]
    report = json.loads((second.crawl_dir / "report.json").read_text())
    assert report["articles"]["not_due"] >= len(article_paths)
    assert report["articles"]["new"] == 0 and second.text_records == []


def test_coverage_reports_sources_and_gaps(tmp_path):
    site = FixtureSite(include_faults=False)
    store = tmp_path / "store"
    with site.serve(host="127.0.0.1") as running:
        finished_crawl(store, run_cli(*crawl_command(store, running.base_urls["it"])), "lifegate")
    result = run_cli("coverage", "--store", str(store), "--json")
    assert result.returncode == 0, result.stderr
    coverage = json.loads(result.stdout)
    articles = len([a for a in site.articles if a.site == "it"])
    assert coverage["by_source"]["sitemap"]["known"] >= articles
    assert coverage["by_source"]["sitemap"]["archived"] >= articles
    assert coverage["by_source"]["feed"]["known"] >= 10  # the main feed and category feeds
    assert coverage["gaps"] == []


def test_a_second_run_on_a_locked_store_is_refused(tmp_path):
    from archive.lock import StoreLock

    storage = FileStorage(str(tmp_path / "store"))
    lock = StoreLock(storage, "other-run")
    lock.acquire()
    try:
        result = run_cli("crawl", "--store", str(tmp_path / "store"), "--base-url", "http://127.0.0.1:9")
        assert result.returncode == 3
        assert "in use by run other-run" in result.stderr
    finally:
        lock.release()


def test_the_ledger_learns_captures_even_without_extraction(tmp_path):
    site = FixtureSite(include_faults=False)
    store = tmp_path / "store"
    no_text = ["-s", "EXTRACT_ENABLED=False"]
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        first = finished_crawl(store, run_cli(*crawl_command(store, base, *no_text)), "lifegate")
        running.reset_requests()
        second = finished_crawl(store, run_cli(*crawl_command(store, base, *no_text)), "lifegate")
        requests = running.requests
    article_paths = {a.path for a in site.articles if a.site == "it"}
    assert json.loads((first.crawl_dir / "report.json").read_text())["articles"]["new"] == len(article_paths)
    assert first.text_records == []
    assert not [e for e in requests if e.path in article_paths]
    assert json.loads((second.crawl_dir / "report.json").read_text())["articles"]["new"] == 0


def test_a_second_run_over_an_unchanged_site_writes_revisits_only(tmp_path):
    from archive.index import INDEX_KEY, CdxjIndex
    from archive.indexer import build_indexes
    from archive.reader import ArchiveReader, allowed_warc_keys
    from archive.warc import PROFILE_IDENTICAL_PAYLOAD

    site = FixtureSite(include_faults=False)
    store = tmp_path / "store"
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        first = finished_crawl(store, run_cli(*crawl_command(store, base, *ALWAYS_RECHECK)), "lifegate")
        second = finished_crawl(store, run_cli(*crawl_command(store, base, *ALWAYS_RECHECK)), "lifegate")
    before = warc_records(first)
    after = warc_records(second)
    full_first = [h.get_header("WARC-Target-URI") for kind, h, _ in before if kind == "response"]
    assert len(full_first) > 100  # pages, listings, feeds, sitemaps and their resources
    # No body was stored again: articles are 304 revisits, everything else identical payloads;
    # only empty bodies (redirects) are still response records.
    again = [(h.get_header("WARC-Target-URI"), h.get_header("WARC-Payload-Digest"))
             for kind, h, _ in after if kind == "response"]  # fmt: skip
    assert all(digest == EMPTY_PAYLOAD for _, digest in again), again
    identical = [h for kind, h, _ in after if h.get_header("WARC-Profile") == PROFILE_IDENTICAL_PAYLOAD]
    assert {base + "/robots.txt", base + "/feed", base + "/", base + "/sitemap_index.xml"} <= {
        h.get_header("WARC-Target-URI") for h in identical
    }
    # The response records' dates: a metadata record of the same URL is dated when it was written.
    first_dates = {
        h.get_header("WARC-Target-URI"): h.get_header("WARC-Date")
        for kind, h, _ in before
        if kind == "response"
    }
    for header in identical:
        target = header.get_header("WARC-Refers-To-Target-URI")
        assert target in first_dates and header.get_header("WARC-Payload-Digest")
        assert header.get_header("WARC-Refers-To-Date")[:19] == first_dates[target][:19]
    first_size = sum(p.stat().st_size for p in first.warc_files)
    second_size = sum(p.stat().st_size for p in second.warc_files)
    print(f"WARC bytes: first run {first_size}, second run {second_size}")
    assert second_size < first_size / 4
    # Every revisit replays the payload it refers to.
    storage = FileStorage(str(store))
    build_indexes(storage)
    with storage.open(INDEX_KEY) as fh, CdxjIndex(fh) as index:
        reader = ArchiveReader(storage, index, allowed_warc_keys(storage))
        for header in identical[:40]:
            url = header.get_header("WARC-Target-URI")
            [entry] = [e for e in index.lookup(url) if e.is_revisit and e.url == url][-1:]
            assert reader.load(entry).payload
