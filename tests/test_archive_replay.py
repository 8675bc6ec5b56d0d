"""The replay server end to end on a real crawl of the fixture site: pages, rewriting, Memento,
raw access, redirects and revisits; and its security: sandboxing, allow-listed files, bad input."""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.catalog import ArticleCatalog
from archive.crawl import text_key
from archive.index import INDEX_KEY, CdxjIndex
from archive.indexer import build_indexes
from archive.memento import MementoUrls, http_date, link_timemap, parse_accept_datetime
from archive.replay import ReplayApp
from archive.storage import FileStorage, StorageError
from archive.warc import PROFILE_SERVER_NOT_MODIFIED, RevisitTarget, warc_date
from tests.builders import T0, archived_payload, commit_crawl, exchange, revisit_of, store_copy
from tests.conftest import ROOT
from tests.replay_server import CHROMIUM_ARGS, fetch, serving

RFC1123 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def replay(it_crawl, tmp_path_factory):
    storage = store_copy(it_crawl, tmp_path_factory.mktemp("replay"))
    build_indexes(storage)
    before = snapshot(storage.root)
    with serving(storage) as (base, app):
        yield base, app, storage
    assert snapshot(storage.root) == before  # read-only: the server wrote nothing in the store


@pytest.fixture(scope="module")
def article(it_crawl, replay):
    """An article with images, and its capture's timestamp."""
    _, app, _ = replay
    record = next(r for r in it_crawl.text_records if len(r["images"]) >= 2)
    [entry] = [e for e in app.index.lookup(record["url"]) if e.status == 200]
    return record, entry.timestamp


def attribute_urls(page: str) -> list[str]:
    urls = re.findall(r'\s(?:src|href|action|poster)="([^"]*)"', page)
    for srcset in re.findall(r'\ssrcset="([^"]*)"', page):
        urls += [part.split()[0] for part in srcset.split(", ")]
    return [html.unescape(u) for u in urls]


def test_home_page_lists_searches_filters_and_pages(it_crawl, replay):
    base, _, _ = replay
    status, headers, body = fetch(base + "/")
    page = body.decode()
    assert status == 200 and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert page.count('<li><h2><a href="/article/') == 20  # 30 articles, 20 a page
    assert "page 1 of 2" in page and 'rel="next"' in page
    second = fetch(base + "/?page=2")[2].decode()
    assert second.count('<li><h2><a href="/article/') == 10
    titles = {r["title"] for r in it_crawl.text_records}
    assert sum(title in html.unescape(page + second) for title in titles) == len(titles) == 30

    record = it_crawl.text_records[0]
    word = max(re.findall(r"\w+", record["title"]), key=len)
    found = fetch(base + "/?q=" + quote(word))[2].decode()
    assert record["title"] in html.unescape(found) and "1 capture" in found
    assert "lifegate.it" in found and record["date_published"][:10] in found
    assert "0 articles" in fetch(base + "/?q=zzzznotaword")[2].decode()
    # The site the crawl was for, not the loopback host that served it.
    assert "30 articles" in fetch(base + "/?lang=it&site=lifegate.it")[2].decode()
    assert "0 articles" in fetch(base + "/?site=127.0.0.1")[2].decode()
    assert "0 articles" in fetch(base + "/?lang=en")[2].decode()


def test_catalogue_groups_captures_and_filters_by_site_and_language(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    records = []
    for n, (site, lang) in enumerate([("lifegate.it", "it"), ("lifegate.com", "en"), ("lifegate.it", "it")]):
        records.append({"id": f"{n:032x}", "url": f"https://{site}/a{n}", "title": f"Titolo {n} acqua",
                        "text": "fiumi e laghi" if n else "Siccità", "site": site, "language": lang,
                        "date_published": f"2025-0{n + 1}-01T00:00:00+00:00",
                        "crawl": {"fetched": "2025-06-01T00:00:00+00:00"}})  # fmt: skip
    for crawl_id, rows in (("20250601T000000Z-lifegate", records), ("20250701T000000Z-lifegate", records[:1])):
        storage.put_bytes(text_key(crawl_id), "".join(json.dumps(r) + "\n" for r in rows).encode())
        commit_crawl(storage, crawl_id, lambda w: w.write_exchange(exchange("http://x.org/", b"x", T0)))
    with ArticleCatalog.from_store(storage) as catalog:
        assert len(catalog) == 3 and catalog.get(records[0]["id"]).captures == 2
        assert [a.title for a in catalog.search().articles] == ["Titolo 2 acqua", "Titolo 1 acqua", "Titolo 0 acqua"]
        assert [a.id for a in catalog.search("siccita").articles] == [records[0]["id"]]  # diacritics
        assert catalog.search("lagh").total == 2  # prefix of the last word
        assert catalog.search("acqua", language="en").total == 1
        assert catalog.search("", site="lifegate.it", per_page=1, page=2).articles[0].title == "Titolo 0 acqua"
        assert catalog.search('" OR * NEAR(').total == 0  # user input is never FTS syntax
        assert catalog.facets() == (["lifegate.com", "lifegate.it"], ["en", "it"])
        assert catalog.get("../../etc") is None


def test_article_page_shows_its_capture_timeline(replay, article):
    base, _, _ = replay
    record, timestamp = article
    status, _, body = fetch(f"{base}/article/{record['id']}")
    page = body.decode()
    assert status == 200 and record["title"] in html.unescape(page)
    assert f'href="/web/{timestamp}/{record["url"]}"' in page and "/record/" in page
    assert fetch(f"{base}/article/{'0' * 32}")[0] == 404


def test_replayed_article_points_only_at_archived_copies(it_crawl, replay, article, fixture_site):
    base, _, _ = replay
    _, running = fixture_site
    record, timestamp = article
    served_before = len(running.requests)
    status, headers, body = fetch(f"{base}/web/{timestamp}mp_/{record['url']}")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<title>" in page and record["title"] in html.unescape(page)
    assert "Content-Encoding" not in headers  # gzip as captured, decoded for the browser

    urls = attribute_urls(page)
    assert urls and all(not u.startswith(("http:", "https:", "//")) for u in urls), urls
    # Lazy images keep a data: placeholder in src until their script swaps data-src in.
    images = re.findall(r'<img[^>]*\s(?:data-)?src="(?!data:)([^"]+)"', page)
    styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', page)
    assert len(images) >= 3 and styles
    for url in images[:4] + styles:
        assert url.startswith(f"/web/{timestamp}mp_/http://127.0.0.1:"), url
        status, headers, body = fetch(base + html.unescape(url))
        original = html.unescape(url).split("mp_/", 1)[1]
        assert status == 200, url
        if headers["Content-Type"].startswith("image/"):
            assert body == archived_payload(it_crawl, original)
        else:  # the stylesheet: its url(...) references rewritten too
            assert b"url(/web/" in body and b"url(/app/" not in body
    assert len(running.requests) == served_before  # nothing was fetched from the (live) site


def test_frame_page_sandboxes_the_capture(replay, article):
    base, _, _ = replay
    record, timestamp = article
    status, headers, body = fetch(f"{base}/web/{timestamp}/{record['url']}")
    page = body.decode()
    [iframe] = re.findall(r"<iframe[^>]*>", page)
    assert status == 200 and f'src="/web/{timestamp}mp_/{record["url"]}"' in iframe
    sandbox = re.search(r'sandbox="([^"]*)"', iframe).group(1).split()
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no scripts
    assert "<script" not in page and record["title"] in html.unescape(page)


def test_a_never_captured_resource_is_an_archive_404(replay, article, fixture_site):
    base, _, _ = replay
    _, running = fixture_site
    record, timestamp = article
    served_before = len(running.requests)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(record["url"]))
    for url in (f"{origin}/app/uploads/never-captured.jpg", "https://www.facebook.com/lifegate"):
        status, _, body = fetch(f"{base}/web/{timestamp}mp_/{url}")
        assert status == 404 and b"Not in the archive" in body
        assert fetch(f"{base}/web/{url}")[0] == 404  # TimeGate
        assert fetch(f"{base}/timemap/link/{url}")[0] == 404
    assert len(running.requests) == served_before


def test_mementos_carry_memento_datetime_and_links(replay, article):
    base, _, _ = replay
    record, timestamp = article
    url = record["url"]
    for path in (f"/web/{timestamp}/{url}", f"/web/{timestamp}mp_/{url}", f"/web/{timestamp}id_/{url}"):
        status, headers, _ = fetch(base + path)
        assert status == 200 and RFC1123.match(headers["Memento-Datetime"])
        assert headers["Memento-Datetime"] == http_date(datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC))
        link = headers["Link"]
        assert f'<{url}>; rel="original"' in link
        assert f'<{base}/web/{url}>; rel="timegate"' in link
        assert f'<{base}/timemap/link/{url}>; rel="timemap"; type="application/link-format"' in link


def test_timegate_negotiates_accept_datetime(replay, article):
    base, _, _ = replay
    record, timestamp = article
    url = record["url"]
    status, headers, body = fetch(f"{base}/web/{url}", {"Accept-Datetime": "Tue, 11 Sep 2001 20:35:00 GMT"})
    assert status == 302 and body == b""
    assert headers["Location"] == f"{base}/web/{timestamp}/{url}"
    assert headers["Vary"] == "accept-datetime"
    assert f'<{url}>; rel="original"' in headers["Link"] and 'rel="timemap"' in headers["Link"]
    moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert (
        f'<{base}/web/{timestamp}/{url}>; rel="first last memento"; datetime="{http_date(moment)}"'
        in headers["Link"]
    )
    assert fetch(f"{base}/web/{url}")[1]["Location"] == headers["Location"]  # no header: latest
    for bad in ("yesterday", "2001-09-11T20:35:00Z", "Tue, 11 Sep 2001 20:35:00 +0200", "x" * 500):
        assert fetch(f"{base}/web/{url}", {"Accept-Datetime": bad})[0] == 400


def test_timemaps_in_link_format_and_json(replay, article):
    base, _, _ = replay
    record, timestamp = article
    url = record["url"]
    status, headers, body = fetch(f"{base}/timemap/link/{url}")
    lines = body.decode().split(",\n")
    assert status == 200 and headers["Content-Type"] == "application/link-format"
    assert lines[0] == f'<{url}>; rel="original"'
    assert lines[1].startswith(f'<{base}/timemap/link/{url}>; rel="self"; type="application/link-format"; from="')
    assert lines[2] == f'<{base}/web/{url}>; rel="timegate"'
    assert lines[3].startswith(f'<{base}/web/{timestamp}/{url}>; rel="first last memento"; datetime="')
    status, headers, body = fetch(f"{base}/timemap/json/{url}")
    data = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert data["original_uri"] == url and data["timegate_uri"] == f"{base}/web/{url}"
    assert [m["uri"] for m in data["mementos"]["list"]] == [f"{base}/web/{timestamp}/{url}"]


def test_memento_formats_match_rfc_7089_examples():
    # RFC 7089 §5.1's TimeMap of http://a.example.org at http://arxiv.example.net.
    urls = MementoUrls("http://arxiv.example.net")
    stamps = ["20000620180259", "20000621011731", "20091027204954"]
    lines = link_timemap(urls, "http://a.example.org", stamps).split(",\n")
    assert lines[0] == '<http://a.example.org>; rel="original"'
    assert lines[1].endswith('; from="Tue, 20 Jun 2000 18:02:59 GMT"; until="Tue, 27 Oct 2009 20:49:54 GMT"')
    assert lines[3] == ('<http://arxiv.example.net/web/20000620180259/http://a.example.org>; '
                        'rel="first memento"; datetime="Tue, 20 Jun 2000 18:02:59 GMT"')  # fmt: skip
    assert lines[4].endswith('; rel="memento"; datetime="Wed, 21 Jun 2000 01:17:31 GMT"')
    assert lines[5].rstrip().endswith('; rel="last memento"; datetime="Tue, 27 Oct 2009 20:49:54 GMT"')
    # §4.1.1: the Accept-Datetime of the example request.
    assert parse_accept_datetime("Tue, 11 Sep 2001 20:35:00 GMT") == datetime(2001, 9, 11, 20, 35, tzinfo=UTC)


def test_raw_mode_returns_original_headers_and_body(it_crawl, replay, article):
    base, _, _ = replay
    record, timestamp = article
    status, headers, body = fetch(f"{base}/web/{timestamp}id_/{record['url']}")
    assert status == 200 and body == archived_payload(it_crawl, record["url"])
    assert headers["X-Cache"] == "HIT" and headers["Etag"] and headers["Via"] == "1.1 varnish"
    assert headers["X-Archive-Orig-Content-Encoding"] == "gzip" and "Content-Encoding" not in headers
    assert "sandbox" in headers["Content-Security-Policy"]  # raw is still isolated (research C.6)
    status, headers, raw = fetch(f"{base}/web/{timestamp}id_/{record['url']}", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(raw) == body


def test_raw_warc_record_download_by_opaque_id(replay, article):
    base, app, storage = replay
    record, _ = article
    page = fetch(f"{base}/article/{record['id']}")[2].decode()
    record_id = re.search(r'href="/record/(\d+)"', page).group(1)
    status, headers, data = fetch(f"{base}/record/{record_id}")
    entry = app.index.entry_at(int(record_id))
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    assert data == storage.read_range(entry.filename, entry.offset, entry.length)
    warc = next(iter(ArchiveIterator(io.BytesIO(data))))
    assert warc.rec_type == "response" and warc.rec_headers.get_header("WARC-Target-URI") == entry.url
    for bad in (str(int(record_id) + 1), "-1", "99999999999", "abc", "..%2F..%2Fetc%2Fpasswd"):
        assert fetch(f"{base}/record/{bad}")[0] == 404


def test_redirect_chains_replay_as_archived_redirects(it_crawl, replay):
    base, app, _ = replay
    # The fixture links some articles by their old /persone/news/<slug> address (two 301s).
    chains = []
    for record in it_crawl.text_records:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(record["url"]))
        slug = urlsplit(record["url"]).path.strip("/")
        chains += [(origin, slug, e.timestamp) for e in app.index.lookup(f"{origin}/persone/news/{slug}")]
    assert chains
    origin, slug, timestamp = chains[0]
    hops = []
    url = f"{base}/web/{timestamp}/{origin}/persone/news/{slug}"
    for _ in range(4):
        status, headers, _ = fetch(url)
        hops.append(status)
        if status not in (301, 302):
            break
        assert re.match(r"^/web/\d{14}/http://", headers["Location"]), headers["Location"]
        url = base + headers["Location"]
    assert hops == [301, 301, 200] and url.endswith(f"{origin}/{slug}")
    status, headers, _ = fetch(f"{base}/web/{timestamp}mp_/{origin}/news/{slug}")
    assert status == 301 and headers["Location"].startswith("/web/") and "mp_/" in headers["Location"]


def test_partial_timestamps_resolve_to_the_nearest_capture(replay, article):
    base, _, _ = replay
    record, timestamp = article
    for partial in (timestamp[:4], timestamp[:8], "1999", "2999"):
        status, headers, _ = fetch(f"{base}/web/{partial}/{record['url']}")
        assert status == 302 and headers["Location"] == f"/web/{timestamp}/{record['url']}"
    status, _, body = fetch(f"{base}/web/{timestamp[:6]}mp_/{record['url']}", follow=True)
    assert status == 200 and b"<title>" in body


def revisit_store(tmp_path: Path) -> tuple[FileStorage, str, list[datetime]]:
    """A page captured once, then revisited three ways, in two crawls."""
    storage = FileStorage(str(tmp_path / "store"))
    url = "http://example.org/article"
    body = b"<html><head><title>Same story</title></head><body><p>unchanged</p></body></html>"
    when = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)]
    first = commit_crawl(storage, "20250301T120000Z-lifegate",
                         lambda w: w.write_exchange(exchange(url, body, when[0])))[0]  # fmt: skip

    def later(writer):
        # identical-payload-digest, with the new response's headers
        revisit_of(writer, first, exchange(url, body, when[1], headers=[(b"X-Run", b"2")]), when[0])
        # server-not-modified: a 304 that confirmed the first capture
        not_modified = exchange(url, b"", when[2], status=304, gz=False)
        writer.write_revisit(not_modified, profile=PROFILE_SERVER_NOT_MODIFIED,
                             refers_to=RevisitTarget(first.record_id, url, warc_date(when[0])),
                             payload_digest=None)  # fmt: skip

        # digest only (no WARC-Refers-To-*): found by payload digest among captures of the URL
        def bare(info_id):
            record = writer.factory._builder.create_revisit_record(
                url, first.payload_digest, url, warc_date(when[0]),
                warc_headers_dict={"WARC-Date": warc_date(when[3])},
            )  # fmt: skip
            for name in ("WARC-Refers-To-Target-URI", "WARC-Refers-To-Date"):
                record.rec_headers.remove_header(name)
            return [record]

        writer.write(bare)

    commit_crawl(storage, "20250302T120000Z-lifegate", later)
    build_indexes(storage)
    return storage, url, when


def test_revisits_replay_the_payload_they_refer_to(tmp_path):
    storage, url, when = revisit_store(tmp_path)
    with serving(storage) as (base, _):
        for moment in when:
            stamp = moment.strftime("%Y%m%d%H%M%S")
            status, headers, body = fetch(f"{base}/web/{stamp}mp_/{url}")
            assert status == 200 and b"<p>unchanged</p>" in body, stamp
            assert headers["Memento-Datetime"] == http_date(moment)
            status, headers, body = fetch(f"{base}/web/{stamp}id_/{url}")
            assert status == 200 and body.endswith(b"</body></html>")
        assert fetch(f"{base}/web/{when[1]:%Y%m%d%H%M%S}id_/{url}")[1]["X-Run"] == "2"
        timemap = fetch(f"{base}/timemap/json/{url}")[2]
        assert len(json.loads(timemap)["mementos"]["list"]) == 4


def test_archived_cookies_and_policies_never_reach_the_archive_origin(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    url = "http://example.org/tracker"
    headers = [(b"Set-Cookie", b"session=1; Path=/"), (b"Strict-Transport-Security", b"max-age=9"),
               (b"Content-Security-Policy", b"default-src *"), (b"Link", b"<https://cdn.example/x.css>; rel=preload")]  # fmt: skip
    commit_crawl(storage, "20250301T120000Z-lifegate",
                 lambda w: w.write_exchange(exchange(url, b"<p>hi</p>", T0, headers=headers)))  # fmt: skip
    build_indexes(storage)
    with serving(storage) as (base, _):
        for mode in ("mp_", "id_"):
            status, got, _ = fetch(f"{base}/web/20250301120000{mode}/{url}")
            assert status == 200 and "Set-Cookie" not in got and "Strict-Transport-Security" not in got
            assert got["X-Archive-Orig-Set-Cookie"] == "session=1; Path=/"
            assert "cdn.example" not in got.get("Link", "")
            csp = got["Content-Security-Policy"]
            assert (
                csp.startswith("sandbox allow-scripts allow-forms;")
                and "allow-same-origin" not in csp
            )
            assert "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'" in csp
            assert "connect-src 'self'" in csp and "form-action 'self'" in csp
        status, got, _ = fetch(
            f"{base}/web/20250301120000/{url}"
        )  # the frame page: the archive's own
        assert (
            status == 200
            and "Set-Cookie" not in got
            and "default-src 'none'" in got["Content-Security-Policy"]
        )


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_index_lines_cannot_name_files_outside_the_archive(tmp_path):
    storage, url, _ = revisit_store(tmp_path)
    [real] = [e for e in CdxjIndex(io.BytesIO((storage.root / INDEX_KEY).read_bytes())).lookup(url) if not e.is_revisit]
    warc = storage.root / real.filename
    shutil.copy(warc, tmp_path / "outside.warc.gz")  # what a traversal would reach
    shutil.copy(warc, warc.with_name("unlisted.warc.gz"))  # in the store, not in any manifest
    bait = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=bait.serve_forever, daemon=True).start()
    bad_names = [
        "../../outside.warc.gz",
        str(tmp_path / "outside.warc.gz"),
        f"http://127.0.0.1:{bait.server_port}/x.warc.gz",
        "s3://some-bucket/x.warc.gz",
        real.filename.replace("/warc/", "/warc/../warc/"),
        real.filename.rsplit("/", 1)[0] + "/unlisted.warc.gz",
    ]
    line = (storage.root / INDEX_KEY).read_text().splitlines()[0]
    lines = []
    for n, name in enumerate(bad_names):
        data = {"url": f"http://evil.example/{n}", "mime": "text/html", "status": "200",
                "digest": real.digest, "length": str(real.length), "offset": str(real.offset), "filename": name}  # fmt: skip
        lines.append(f"example,evil)/{n} 20250301120000 {json.dumps(data)}")
    storage.put_bytes(INDEX_KEY, ("\n".join(sorted([line, *lines])) + "\n").encode())
    try:
        with serving(storage) as (base, app):
            assert fetch(f"{base}/web/20250301120000mp_/{url}")[0] == 200  # the genuine line works
            for n in range(len(bad_names)):
                assert fetch(f"{base}/web/20250301120000mp_/http://evil.example/{n}")[0] == 404
                assert fetch(f"{base}/web/20250301120000id_/http://evil.example/{n}")[0] == 404
                [entry] = app.index.lookup(f"http://evil.example/{n}")
                assert fetch(f"{base}/record/{entry.position}")[0] == 404
    finally:
        bait.shutdown()
        bait.server_close()
    assert _Recorder.hits == []


def test_malformed_and_huge_requests_get_4xx(replay, article):
    base, _, _ = replay
    record, timestamp = article
    url = record["url"]
    paths = [
        f"/web/{timestamp}mp_/{url}?q=" + "a" * 10_240,
        f"/web/{timestamp}mp_/http://x.org/" + "%41" * 4000,
        f"/web/2025133100/{url}",
        f"/web/20251301000000/{url}",
        f"/web/123/{url}",
        f"/web/20250101xx_/{url}",
        f"/web/202501010000001/{url}",
        f"/web/{timestamp}mp_/",
        f"/web/{timestamp}mp_/http://x.org/%zz%ff%",
        f"/web/{timestamp}mp_/../../etc/passwd",
        f"/web/{timestamp}mp_/file:///etc/passwd",
        f"/web/{timestamp}id_/s3://bucket/key",
        f"/web/{timestamp}mp_/javascript:alert(1)",
        "/web/http://[::1",
        "/web/",
        "/timemap/xml/" + url,
        "/timemap/link/",
        "/captures",
        "/captures?url=ftp://x",
        "/article/..%2F..%2Fetc",
        "/?page=-1",
        "/?page=abc",
        "/?page=99999999999",
        "/record/",
        "/nothing",
        "/web/%00/x",
        "/web/2025/http://%zz",
    ]
    for path in paths:
        status, _, body = fetch(base + path)
        assert 400 <= status < 500, (path[:80], status)
        assert b"Traceback" not in body
    assert fetch(base + "/?q=%ff%fe%00&site=%C0")[0] == 200  # odd words: no results, no error
    assert fetch(base + "/")[0] == 200  # and the server is still serving


def test_index_and_replay_from_an_s3_store(make_store):
    storage = make_store()  # moto's S3 on 127.0.0.1: index objects uploaded, WARCs read by range
    url = "http://example.org/s3-page"
    page = b'<title>From S3</title><img src="/i.png">'
    commit_crawl(storage, "20250301T120000Z-lifegate", lambda w: w.write_exchange(exchange(url, page, T0)))
    report = build_indexes(storage)
    assert report.indexed == ["20250301T120000Z-lifegate"] and storage.exists(INDEX_KEY)
    assert build_indexes(storage).unchanged == report.indexed
    with serving(storage) as (base, _):
        status, _, body = fetch(f"{base}/web/20250301120000mp_/{url}")
        assert status == 200 and b'<img src="/web/20250301120000mp_/http://example.org/i.png">' in body


@pytest.fixture
def replay_store(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)
    build_indexes(storage)
    return storage


def test_replay_command_prints_its_url_first(replay_store, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "replay", "--store", str(replay_store.root), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", first), first
        assert fetch(first)[0] == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err  # SIGTERM stops it cleanly
    empty = subprocess.run([sys.executable, "-m", "cli", "replay", "--store", str(tmp_path / "none")],
                           check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    # The last line: an installed package may print a deprecation warning first.
    assert empty.stderr.splitlines()[-1].startswith("lifegate-archive replay: no index")
    with pytest.raises(StorageError):
        ReplayApp(FileStorage(str(tmp_path / "none")))


# --- A real browser ----------------------------------------------------------------------------

@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="needs Debian's chromium and chromium-driver")  # fmt: skip
def test_a_browser_sees_the_archived_article_with_nothing_from_the_live_web(replay, article, fixture_site, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    base, _, _ = replay
    _, running = fixture_site
    record, timestamp = article
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in [*CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    served_before = len(running.requests)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(f"{base}/web/{timestamp}/{record['url']}")
        driver.switch_to.frame(driver.find_element("css selector", "iframe.replay"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and driver.execute_script("return document.readyState") != "complete":
            time.sleep(0.1)
        assert (
            driver.execute_script("return document.querySelector('h1').textContent")
            == record["title"]
        )
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.currentSrc, i.complete && i.naturalWidth > 0])"
        )
        loaded = [src for src, ok in images if ok]
        assert len(loaded) >= 2 and all(src.startswith(base + "/web/") for src in loaded), images
        assert driver.execute_script("return String(window.origin)") == "null"  # sandboxed
        font = driver.execute_script("return getComputedStyle(document.body).fontFamily")
        assert "Georgia" in font  # the archived stylesheet applied
        driver.switch_to.default_content()
        screenshot = tmp_path / "article.png"
        assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 2_000
        events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    finally:
        driver.quit()
    requested = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in events
                 if e["method"] == "Network.requestWillBeSent"}  # fmt: skip
    blocked = {e["params"]["requestId"] for e in events
               if e["method"] == "Network.loadingFailed" and e["params"].get("blockedReason")}  # fmt: skip
    # Every http(s) request went to the replay server, or was blocked by the browser before it left.
    left = [u for rid, u in requested.items()
            if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(base + "/")
            and rid not in blocked]  # fmt: skip
    assert any(u.startswith(base + "/web/") for u in requested.values()) and left == []
    assert len(running.requests) == served_before
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_takedowns_are_honoured_everywhere(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)
    record = it_crawl.text_records[0]
    storage.put_bytes("takedown.txt", f"# withdrawn at the publisher's request\n{record['url']}\n".encode())
    build_indexes(storage)
    with serving(storage) as (base, app):
        [entry] = [e for e in app.index.lookup(record["url"]) if e.status == 200][:1]
        quoted = quote(record["url"], safe=":/")
        for path in (f"/web/{entry.timestamp}/{quoted}", f"/web/{quoted}", f"/timemap/link/{quoted}",
                     f"/article/{record['id']}", f"/record/{entry.position}"):
            status, _, body = fetch(base + path)
            assert status == 451, path
            assert b"Withdrawn" in body
        status, _, home = fetch(base + "/?q=" + quote(record["title"].split()[0]))
        assert status == 200 and record["url"].encode() not in home
        other = it_crawl.text_records[1]
        [kept] = [e for e in app.index.lookup(other["url"]) if e.status == 200][:1]
        assert fetch(f"{base}/web/{kept.timestamp}id_/{other['url']}")[0] == 200


def test_datasets_page_lists_releases_with_checksums_and_serves_their_files(it_crawl, tmp_path):
    from archive.dataset import ExportOptions
    from archive.release import export_release
    from tests.builders import fixture_store

    store = fixture_store(tmp_path / "store", it_crawl)
    storage = FileStorage(str(store))
    manifest = export_release(storage, ExportOptions("v1"))
    build_indexes(storage)
    with serving(storage) as (base, _):
        status, _, page = fetch(base + "/datasets")
        assert status == 200 and b"v1" in page and b"<svg" in page
        shard = next(f for f in manifest.files if f.kind == "parquet")
        assert shard.sha256.encode() in page
        status, headers, body = fetch(f"{base}/datasets/v1/{shard.path}")
        assert status == 200 and hashlib.sha256(body).hexdigest() == shard.sha256
        assert "attachment" in headers["Content-Disposition"]
        for bad in ("nothing.parquet", "../../crawls/x", "%2e%2e/manifest.json"):
            assert fetch(f"{base}/datasets/v1/{bad}")[0] == 404, bad
        assert fetch(f"{base}/datasets/v9/README.md")[0] == 404
        status, _, home = fetch(base + "/")
        assert status == 200 and home.count(b"<svg") == 3 and b"Articles per month, by site" in home


def test_a_crawl_indexes_itself_at_commit_so_replay_works_right_after(it_crawl):
    storage = FileStorage(str(it_crawl.store))
    crawl_id = it_crawl.crawl_dir.name
    assert (it_crawl.crawl_dir / "index.cdxj").stat().st_size > 0
    state = json.loads((it_crawl.store / "indexes" / "state.json").read_text())
    assert crawl_id in state["merged"]["inputs"]
    record = it_crawl.text_records[0]
    with ReplayApp(storage) as app:  # no `lifegate-archive index` in between
        assert any(e.status == 200 for e in app.index.lookup(record["url"]))
    # Already current: `index` finds nothing to rebuild.
    again = build_indexes(storage)
    assert again.unchanged == [crawl_id] and again.indexed == [] and not again.merged_rebuilt
