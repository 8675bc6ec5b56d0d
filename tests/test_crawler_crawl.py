"""End to end: crawl the fixture site and check the archive, the text and the logged outcomes."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from archive.storage import FileStorage
from crawler.settings import PROJECT_URL
from tests.conftest import run_cli

BOILERPLATE = ["CAPTCHA", "Leggi anche", "newsletter", "Questo sito utilizza cookie", "©", "Lizenziert", "GratisForGratis"]


def responses(crawl) -> list:
    """(uri, status, headers, raw body, rec_headers) of every response record of a crawl."""
    out = []
    for path in crawl.warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    out.append(
                        (
                            record.rec_headers.get_header("WARC-Target-URI"),
                            int(record.http_headers.get_statuscode()),
                            record.http_headers,
                            record.raw_stream.read(),
                            record.rec_headers,
                        )
                    )
    return out


def paths_with_status(crawl, base: str) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for uri, status, *_ in responses(crawl):
        if uri.startswith(base):
            seen.setdefault(urlsplit(uri).path or "/", []).append(status)
    return seen


def test_every_italian_article_gets_one_clean_text_record(fixture_site, it_crawl):
    site, running = fixture_site
    base = running.base_urls["it"]
    records = {r["url"]: r for r in it_crawl.text_records}
    articles = [a for a in site.articles if a.site == "it"]
    assert len(articles) >= 30
    missing = [a.path for a in articles if base + a.path not in records]
    assert not missing
    assert len(it_crawl.text_records) == len(records), "an article was written twice"
    for article in articles:
        record = records[base + article.path]
        assert record["title"] == article.title
        lines = record["text"].splitlines()
        expected = article.expected_text_lines()
        assert lines[0] == expected[0] and lines[-1] == expected[-1], article.path
        for phrase in BOILERPLATE:
            assert phrase not in record["text"], (article.path, phrase)


def test_text_records_point_at_their_exact_warc_record(it_crawl):
    storage = FileStorage(str(it_crawl.crawl_dir / "warc"))
    for record in it_crawl.text_records[:10]:
        prov = record["provenance"]
        member = storage.read_range(prov["warc_file"], prov["offset"], prov["length"])
        [warc_record] = list(ArchiveIterator(io.BytesIO(member)))
        assert warc_record.rec_headers.get_header("WARC-Record-ID") == prov["record_id"]
        assert warc_record.rec_headers.get_header("WARC-Target-URI") == record["url"]
        assert warc_record.rec_headers.get_header("WARC-Payload-Digest") == prov["payload_digest"]


def test_the_store_passes_verify_warcio_check_and_cdxj_indexer(it_crawl):
    result = run_cli("verify", "--store", str(it_crawl.store))
    assert result.returncode == 0, result.stdout + result.stderr
    bindir = str(Path(sys.executable).parent)
    for tool, args in (("warcio", ["check"]), ("cdxj-indexer", [])):
        exe = shutil.which(tool, path=bindir) or shutil.which(tool)
        run = subprocess.run([exe, *args, *map(str, it_crawl.warc_files)], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    indexed = subprocess.run([exe, *map(str, it_crawl.warc_files)], capture_output=True, text=True, check=False).stdout
    revisits = 0
    for path in it_crawl.warc_files:
        with open(path, "rb") as fh:
            revisits += sum(1 for record in ArchiveIterator(fh) if record.rec_type == "revisit")
    assert len(indexed.splitlines()) == len(responses(it_crawl)) + revisits


def test_gzip_encoded_response_is_stored_byte_identical_to_what_the_server_sent(fixture_site, it_crawl):
    _, running = fixture_site
    sent = {
        (entry.path, entry.body_sent)
        for entry in running.requests
        if entry.site == "it" and entry.status == 200 and entry.body_sent[:2] == b"\x1f\x8b"
    }
    stored = {}
    for uri, status, headers, body, _ in responses(it_crawl):
        if headers.get_header("Content-Encoding") == "gzip" and status == 200:
            stored[urlsplit(uri).path] = body
    matched = [path for path, body in sent if stored.get(path) == body]
    assert matched, "no gzip-encoded response was archived as sent"
    assert all(gzip.decompress(stored[p]) for p in matched)
    assert len(matched) >= 30


def test_robots_txt_is_obeyed_and_the_crawler_names_itself(fixture_site, it_crawl):
    it_requests = [e for e in it_crawl.served if e.site == "it"]
    assert len(it_requests) > 30
    assert not [e.path for e in it_requests if e.path.startswith(("/preview/", "/wp-admin/"))]
    agents = {e.headers.get("User-Agent") for e in it_requests}
    assert all(agent and "lifegate-archive" in agent and PROJECT_URL in agent for agent in agents)
    skipped = [e for e in it_crawl.events if e["kind"] == "skipped" and "/preview/" in e["url"]]
    assert skipped, "a link forbidden by robots.txt must be logged as skipped"


def test_the_store_lock_is_renewed_during_the_crawl_and_released_after(it_crawl):
    """The crawl renews its lock every tenth of ARCHIVE_LOCK_STALE_AFTER (10 s here), off the
    reactor thread, and removes it when it ends."""
    stats = it_crawl.manifest["stats"]
    assert stats["archive/lock_heartbeats"] >= 1
    assert "archive/lock_heartbeat_failures" not in stats
    assert not (it_crawl.store / "locks" / "crawl.lock").exists()


def test_robots_txt_is_fetched_and_archived_once_for_rules_and_sitemaps(fixture_site, it_crawl):
    """The robots.txt check and the spider's sitemap discovery read one fetch."""
    _, running = fixture_site
    fetched = [e.path for e in it_crawl.served if e.site == "it" and e.path == "/robots.txt"]
    assert fetched == ["/robots.txt"]
    assert paths_with_status(it_crawl, running.base_urls["it"])["/robots.txt"] == [200]
    assert it_crawl.manifest["stats"]["robotstxt/served_from_fetch"] == 1
    assert it_crawl.manifest["stats"]["discovery/sitemap_urls"] > 0


def test_discovery_sources_and_page_resources_are_archived(fixture_site, it_crawl):
    site, running = fixture_site
    paths = paths_with_status(it_crawl, running.base_urls["it"])
    for path in ("/robots.txt", "/sitemap_index.xml", "/post-sitemap.xml", "/feed"):
        assert 200 in paths.get(path, []), path
    assert any(p.endswith(".css") for p in paths)
    assert any(p.startswith("/app/uploads/") for p in paths)
    stats = it_crawl.manifest["stats"]
    assert stats["discovery/sitemap_urls"] >= len([a for a in site.articles if a.site == "it"])
    assert stats["discovery/feed_urls"] >= 10


def test_redirect_chain_is_archived_hop_by_hop(fixture_site, it_crawl):
    _, running = fixture_site
    paths = paths_with_status(it_crawl, running.base_urls["it"])
    old = [p for p in paths if p.startswith("/persone/news/")]
    assert old, "old-style URLs are linked from the site"
    assert paths[old[0]] == [301]
    middle = "/news/" + old[0].rsplit("/", 1)[-1] if not old[0].endswith("/") else None
    if middle:
        assert paths.get(middle) == [301]


def test_bad_responses_are_archived_or_logged_with_a_reason(fixture_site, it_crawl):
    _, running = fixture_site
    paths = paths_with_status(it_crawl, running.base_urls["it"])
    events = {(urlsplit(e["url"]).path, e["kind"]): e for e in it_crawl.events}
    # 500 that recovers on retry: both captures are kept.
    assert sorted(paths["/fault/flaky-500"]) == [200, 500]
    # 404: archived, and logged as an HTTP error.
    not_found = [p for p, statuses in paths.items() if 404 in statuses]
    assert not_found and any((p, "http-error") in events for p in not_found)
    # Redirect loop: every hop archived, the loop cut by the duplicate filter.
    loop = [p for p in paths if p.startswith("/fault/redirect-loop")]
    assert loop and all(s == [302] for p in loop for s in [paths[p]])
    # Truncated body: archived and flagged.
    truncated = [r for r in responses(it_crawl) if urlsplit(r[0]).path == "/fault/truncated"]
    assert truncated and truncated[0][4].get_header("WARC-Truncated") == "disconnect"
    assert ("/fault/truncated", "truncated") in events
    # Slow server: no response at all, so the crawl log says why.
    assert "TimeoutError" in events[("/fault/slow", "fetch-failed")]["reason"] or "timeout" in events[
        ("/fault/slow", "fetch-failed")
    ]["reason"].lower()


def test_manifest_commits_every_object_with_checksums(it_crawl):
    manifest = it_crawl.manifest
    assert manifest["status"] == "finished"
    keys = {o["key"] for o in manifest["objects"]}
    crawl = it_crawl.crawl_dir.name
    assert f"crawls/{crawl}/text/articles.jsonl" in keys
    assert {f"crawls/{crawl}/warc/{p.name}" for p in it_crawl.warc_files} <= keys
    assert all(len(o["sha256"]) == 64 and o["size"] > 0 for o in manifest["objects"])
    assert manifest["stats"]["extract/records"] == len(it_crawl.text_records)
    assert not list(it_crawl.crawl_dir.rglob("*.open"))


def test_english_site_keeps_the_licence_as_metadata_not_text(fixture_site, en_crawl):
    site, running = fixture_site
    base = running.base_urls["en"]
    records = {r["url"]: r for r in en_crawl.text_records}
    articles = [a for a in site.articles if a.site == "en"]
    assert len(articles) >= 10 and all(base + a.path in records for a in articles)
    for article in articles:
        record = records[base + article.path]
        assert record["license"] == "CC BY-NC-ND 4.0"
        assert "Creative Commons" not in record["text"]


def test_republications_keep_only_pages_crediting_lifegate(fixture_site, republication_crawl):
    site, running = fixture_site
    base = running.base_urls["republisher"]
    records = {r["url"]: r for r in republication_crawl.text_records}
    crediting = [a for a in site.articles if a.site == "republisher" and a.credits_lifegate]
    others = [a for a in site.articles if a.site == "republisher" and not a.credits_lifegate]
    assert len(crediting) >= 6 and others
    assert {base + a.path for a in crediting} == set(records)
    for article in crediting:
        assert records[base + article.path]["translation_of"] == running.base_urls["it"] + article.translation_of


def test_the_seed_article_comes_out_clean(fixture_site, republication_crawl):
    site, _running = fixture_site
    seed = next(a for a in site.articles if a.title.startswith("Wie verlief das Treffen"))
    record = next(r for r in republication_crawl.text_records if r["url"].endswith(seed.path))
    assert record["text"].splitlines() == seed.expected_text_lines()
    assert record["title"] == "Wie verlief das Treffen zwischen Wladimir Putin und Kim Jong-un?"
    assert record["license"] == "CC-BY-SA"
    for phrase in ("CAPTCHA", "Lizenziert", "GratisForGratis", "Getty Images"):
        assert phrase not in record["text"]
    assert "^" not in record["text"].splitlines()
