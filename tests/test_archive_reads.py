"""Archive reads that never lie: takedowns hold for every spelling of a URL, damaged records are
never served or extracted, decoding is bounded, batch commands report bad input and go on, and no
request gets a 500."""

from __future__ import annotations

import gzip
import io
import json
import random
import shutil
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import brotli
import psutil
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.content_coding import zstd
from archive.crawl import CrawlManifest, ManifestEntry, read_manifest, text_key, warc_key
from archive.index import INDEX_KEY, CdxjIndex
from archive.indexer import build_indexes
from archive.replay import UI_CSP, ReplayApp
from archive.storage import FileStorage
from archive.takedown import article_id
from tests.builders import (
    T0,
    add_crawl,
    archived_payload,
    commit_crawl,
    exchange,
    fixture_store,
    run,
)
from tests.conftest import ROOT, crawl_command, finished_crawl, run_cli
from tests.replay_server import fetch, serving

HOST = "lifegate.example"
GONE = f"http://{HOST}/about-us"
NEIGHBOUR = f"http://{HOST}/about-us-2"
STAMP = T0.strftime("%Y%m%d%H%M%S")


def text_record(url: str, title: str, location) -> dict:
    return {
        "id": article_id(url), "url": url, "canonical_url": url, "title": title,
        "text": f"{title}. " * 20, "site": HOST, "language": "en",
        "date_published": "2025-02-01T00:00:00+00:00",
        "crawl": {"fetched": T0.isoformat()}, "provenance": location.as_dict(),
    }  # fmt: skip


def responses(locations) -> list:
    """The response locations among what ``write_exchange`` calls returned."""
    flat = [loc for item in locations for loc in (item if isinstance(item, list) else [item])]
    return [loc for loc in flat if loc.record_type == "response"]


def with_text(storage: FileStorage, crawl_id: str, records: list[dict]) -> None:
    """Add a text file to a committed crawl and list it in its manifest."""
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    stored = storage.put_bytes(text_key(crawl_id), lines)
    manifest = read_manifest(storage, crawl_id)
    manifest.objects.append(ManifestEntry.from_stored(stored))
    manifest.write(storage)


@pytest.fixture(scope="module")
def takedown_store(tmp_path_factory):
    """A page on the takedown list and its neighbour, each with its text record."""
    storage = FileStorage(str(tmp_path_factory.mktemp("takedown") / "store"))
    crawl_id = "20250301T120000Z-lifegate"
    pages = {GONE: b"<title>Withdrawn page</title><p>secret</p>",
             NEIGHBOUR: b"<title>Neighbour page</title><p>public</p>"}  # fmt: skip
    locations = commit_crawl(
        storage,
        crawl_id,
        lambda w: [w.write_exchange(exchange(u, b, T0)) for u, b in pages.items()],
    )
    gone, neighbour = responses(locations)
    with_text(storage, crawl_id, [text_record(GONE, "Withdrawn page", gone),
                                  text_record(NEIGHBOUR, "Neighbour page", neighbour)])  # fmt: skip
    storage.put_bytes("takedown.txt", f"# asked by the author\n{GONE}\n".encode())
    build_indexes(storage)
    return storage


# Spellings of GONE as a client may put them in a request target.
SPELLINGS = [
    GONE,
    f"http://{HOST}/About-Us",
    f"HTTP://{HOST.upper()}/ABOUT-US",
    f"https://{HOST}/about-us",
    f"{HOST}/about-us",
    quote(GONE, safe=""),  # http%3A%2F%2F...
    f"http%3a%2f%2f{HOST}%2fabout-us",
    f"http://{HOST}/%61bout-us",
    f"http://{HOST}/about%2Dus",
    f"http://www.{HOST}/about-us",
    f"https://www.{HOST}:443/About-Us/",
    f"http://{HOST}/about-us/",
    f"http://{HOST}:80/about-us",
    f"http:/{HOST}/about-us",
    f"http://{HOST}//about-us",
    f"http://{HOST}/./about-us",
    f"http://{HOST}/x/../about-us",
    f"http://{HOST}./about-us",
    f"http://user@{HOST}/about-us",
    f"http://{HOST}/about-us?utm_source=newsletter",
]


def memento_paths(target: str) -> list[str]:
    return [
        f"/web/{STAMP}/{target}", f"/web/{STAMP}mp_/{target}", f"/web/{STAMP}id_/{target}",
        f"/web/{STAMP}if_/{target}", f"/web/{STAMP[:6]}/{target}", f"/web/{target}",
        f"/timemap/link/{target}", f"/timemap/json/{target}", "/captures?url=" + quote(target, safe=""),
    ]  # fmt: skip


def test_a_taken_down_page_is_refused_in_every_spelling_on_every_endpoint(takedown_store):
    assert len(SPELLINGS) >= 15
    with serving(takedown_store) as (base, _):
        refused = []
        for spelling in SPELLINGS:
            for path in memento_paths(spelling):
                status, headers, body = fetch(base + path)
                assert status == 451, (path, status)
                assert b"secret" not in body and "Content-Security-Policy" in headers
                refused.append(path)
        [entry] = CdxjIndex(io.BytesIO((takedown_store.root / INDEX_KEY).read_bytes())).lookup(GONE)
        for path in (f"/record/{entry.position}", f"/article/{article_id(GONE)}"):
            assert fetch(base + path)[0] == 451, path
        assert b"Withdrawn page" not in fetch(base + "/")[2]
        assert b"Withdrawn page" not in fetch(base + "/?q=Withdrawn")[2]
        # The neighbour, whose URL starts like the withdrawn one, is served everywhere.
        for path in memento_paths(NEIGHBOUR):
            status, _, body = fetch(base + path)
            assert status in (200, 302), (path, status)
            assert status == 302 or b"about-us-2" in body or b"Neighbour page" in body
            assert b'/about-us"' not in body and b"secret" not in body
        assert b"public" in fetch(f"{base}/web/{STAMP}id_/{NEIGHBOUR}")[2]
        assert fetch(f"{base}/article/{article_id(NEIGHBOUR)}")[0] == 200
    print(f"{len(refused)} requests for {len(SPELLINGS)} spellings refused")


def test_takedowns_hold_in_wacz_and_dataset_exports(takedown_store, tmp_path, capsys):
    from zipfile import ZipFile

    from archive.dataset import ExportOptions, select_rows
    from archive.takedown import TakedownList

    storage = FileStorage(str(tmp_path / "store"))
    shutil.copytree(takedown_store.root, storage.root)
    (storage.root / "takedown.txt").write_text(f"{HOST.upper()}/About-Us/\n")  # another spelling
    code, _, err = run(
        capsys, "wacz", "--store", str(storage.root), "--out", str(tmp_path / "a.wacz")
    )
    assert code == 0, err
    uris = []
    with ZipFile(tmp_path / "a.wacz") as wacz:
        for name in wacz.namelist():
            if name.startswith("archive/"):
                for record in ArchiveIterator(io.BytesIO(wacz.read(name))):
                    uris.append(record.rec_headers.get_header("WARC-Target-URI"))
        index = wacz.read("indexes/index.cdxj").decode()
        pages = wacz.read("pages/pages.jsonl").decode()
    assert uris.count(NEIGHBOUR) == 2 and GONE not in uris  # its request and response both gone
    assert "about-us-2" in index and '"url": "http://lifegate.example/about-us"' not in index
    assert "Neighbour page" in pages and "Withdrawn page" not in pages
    selection = select_rows(storage, ExportOptions("x"), TakedownList.from_store(storage))
    assert [r["url"] for r in selection.rows] == [NEIGHBOUR]
    assert selection.fates == {article_id(GONE): "taken-down"}


# --- Damaged records ------------------------------------------------------------------------------


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    path.write_bytes(bytes(data))


def test_a_damaged_record_is_a_502_never_a_page(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    crawl_id = "20250301T120000Z-lifegate"
    body = b"<title>Fine</title>" + b"<p>words of the page</p>" * 400
    broken, fine = "http://example.org/broken", "http://example.org/fine"
    commit_crawl(
        storage,
        crawl_id,
        lambda w: [w.write_exchange(exchange(u, body, T0)) for u in (broken, fine)],
    )
    build_indexes(storage)
    [entry] = CdxjIndex(io.BytesIO((storage.root / INDEX_KEY).read_bytes())).lookup(broken)
    flip_byte(storage.root / entry.filename, entry.offset + entry.length // 2)
    with serving(storage) as (base, _):
        for path in (f"/web/{STAMP}/{broken}", f"/web/{STAMP}mp_/{broken}", f"/web/{STAMP}id_/{broken}",
                     f"/record/{entry.position}"):  # fmt: skip
            status, headers, page = fetch(base + path, {"Accept-Encoding": "gzip"})
            assert status == 502, (path, status)
            assert b"damaged" in page and headers["Content-Security-Policy"] == UI_CSP
        assert fetch(f"{base}/web/{STAMP}mp_/{fine}")[0] == 200  # the next record is intact


def test_a_record_failing_its_payload_digest_is_refused(tmp_path):
    """An uncompressed WARC has no gzip check: the WARC digests catch the changed byte."""
    storage = FileStorage(str(tmp_path / "store"))
    crawl_id = "20250301T120000Z-lifegate"
    url = "http://example.org/plain"
    path = tmp_path / "plain.warc"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=False)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(b"<p>hello archive</p>"),
                                           http_headers=http)  # fmt: skip
        writer.write_record(record)
        record.raw_stream.close()  # warcio spooled the payload to compute the digests
    data = path.read_bytes()
    path.write_bytes(data.replace(b"hello archive", b"jello archive"))
    stored = storage.put_file(warc_key(crawl_id, "plain.warc"), path)
    CrawlManifest(
        crawl_id, "lifegate", "s", "f", "finished", [ManifestEntry.from_stored(stored)]
    ).write(storage)
    build_indexes(storage)
    with serving(storage) as (base, _):
        for mode in ("mp_", "id_"):
            status, _, page = fetch(f"{base}/web/{STAMP[:4]}{mode}/{url}", follow=True)
            assert status == 502 and b"jello" not in page and b"digest" in page


def test_reextract_skips_and_lists_a_damaged_record(it_crawl, tmp_path, capsys):
    store = fixture_store(tmp_path / "store", it_crawl)
    record = it_crawl.text_records[0]
    prov = record["provenance"]
    flip_byte(store / "crawls" / it_crawl.crawl_dir.name / "warc" / prov["warc_file"],
              prov["offset"] + prov["length"] // 2)  # fmt: skip
    code, out, err = run(capsys, "reextract", "--store", str(store), "--workers", "1")
    assert code == 0, err
    assert "re-extracted 29 of 30 pages" in out and "1 record-damaged" in out
    assert f"{prov['warc_file']}@{prov['offset']}: record-damaged" in err


# --- Bounded decoding -----------------------------------------------------------------------------

MIB = 1024 * 1024


# The replay server in a process of its own, as `lifegate-archive replay` runs it, so that its RSS
# is measured alone.
SERVER = """
import sys
from werkzeug.serving import make_server
from archive.content_coding import map_large_buffers
from archive.replay import ReplayApp
from archive.storage import FileStorage
map_large_buffers()
app = ReplayApp(FileStorage(sys.argv[1]), max_decoded_bytes=int(sys.argv[2]),
                decode_budget_bytes=int(sys.argv[3]), decode_wait=30)
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def test_gzip_bombs_cannot_take_the_servers_memory(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    bomb, big = "http://example.org/bomb", "http://example.org/big.txt"
    big_headers = [(b"Content-Type", b"text/plain")]
    commit_crawl(storage, "20250301T120000Z-lifegate", lambda w: [
        w.write_exchange(exchange(bomb, b"<html>" + b"\0" * (128 * MIB), T0)),
        w.write_exchange(exchange(big, b"x" * (6 * MIB), T0, headers=big_headers)),
    ])  # fmt: skip
    build_indexes(storage)
    budget = 24 * MIB
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(storage.root), str(8 * MIB), str(budget)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        status, _, page = fetch(f"{base}/web/{STAMP}mp_/{bomb}")
        assert status == 502 and b"more than 8388608 bytes" in page
        status, headers, raw = fetch(f"{base}/web/{STAMP}id_/{bomb}", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert len(raw) < MIB  # passed on compressed, never decoded
        assert fetch(f"{base}/web/{STAMP}mp_/{big}")[0] == 200

        process = psutil.Process(server.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
                time.sleep(0.002)

        def get(path):
            started = time.monotonic()
            status, _, body = fetch(base + path)
            return status, len(body), time.monotonic() - started

        sampler = threading.Thread(target=sample)
        sampler.start()
        paths = [f"/web/{STAMP}mp_/{bomb}"] * 48 + [f"/web/{STAMP}mp_/{big}"] * 12
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(get, paths))
        done.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
    assert [r[0] for r in results[:48]] == [502] * 48
    assert [r[:2] for r in results[48:]] == [(200, 6 * MIB)] * 12
    growth = (peak[0] - baseline) / MIB
    print(f"server RSS {baseline / MIB:.0f} MiB at rest, peak growth with 60 requests 16 at a time: "
          f"{growth:.0f} MiB (budget {budget // MIB} MiB)")  # fmt: skip
    assert growth < 2 * budget / MIB + 48  # the documented bound: about twice the budget
    assert max(r[2] for r in results) < 30


# --- Every content coding -------------------------------------------------------------------------

CODERS = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


def test_every_content_coding_replays_and_reextracts(it_crawl, tmp_path, capsys):
    storage = FileStorage(str(tmp_path / "store"))
    originals = it_crawl.text_records[:4]
    crawl_id = "20250301T120000Z-lifegate"
    pages = [(coding, record, archived_payload(it_crawl, record["url"]))
             for coding, record in zip(CODERS, originals, strict=True)]  # fmt: skip

    def write(writer):
        return [
            writer.write_exchange(exchange(record["url"], CODERS[coding](page), T0, gz=False,
                                           headers=[(b"Content-Encoding", coding.encode())]))
            for coding, record, page in pages
        ]  # fmt: skip

    locations = responses(commit_crawl(storage, crawl_id, write))
    records = [
        {**record, "provenance": loc.as_dict()}
        for (_, record, _), loc in zip(pages, locations, strict=True)
    ]
    with_text(storage, crawl_id, records)
    build_indexes(storage)
    with serving(storage) as (base, _):
        for coding, record, _ in pages:
            status, headers, body = fetch(f"{base}/web/{STAMP}mp_/{record['url']}")
            assert status == 200 and "Content-Encoding" not in headers, coding
            assert record["title"].encode() in body and b'src="/web/' in body, coding
    code, out, err = run(capsys, "reextract", "--store", str(storage.root), "--workers", "1")
    assert code == 0 and "re-extracted 4 of 4 pages" in out, err
    [rebuilt] = (storage.root / "reextract").glob("*/*.jsonl")
    texts = {r["url"]: r["text"] for r in map(json.loads, rebuilt.read_text().splitlines())}
    assert texts == {r["url"]: r["text"] for r in originals}


def test_the_fixture_answers_each_coding_when_asked(fixture_site):
    from archive.content_coding import decode

    _, running = fixture_site
    url = running.base_urls["it"] + "/"
    plain = fetch(url, {"Accept-Encoding": "identity"})
    assert plain[0] == 200 and "Content-Encoding" not in plain[1]
    for coding in CODERS:
        status, headers, body = fetch(url, {"Accept-Encoding": f"{coding}, gzip;q=0.5"})
        assert status == 200 and headers["Content-Encoding"] == coding
        assert decode(body, coding, 10 * MIB) == plain[2]
    assert (
        fetch(url, {"Accept-Encoding": "gzip, deflate, br, zstd"})[1]["Content-Encoding"] == "gzip"
    )


def test_a_crawl_of_a_site_answering_zstd_replays_and_reextracts(fixture_site, tmp_path, capsys):
    """The fixture answers the coding a client prefers, as CDNs do: a crawl asking for zstd first
    archives zstd bodies, which replay and reextract read back."""
    _, running = fixture_site
    store = tmp_path / "store"
    process = run_cli(*crawl_command(store, running.base_urls["it"], "-s",
                                     'DEFAULT_REQUEST_HEADERS={"Accept-Encoding": "zstd, gzip;q=0.5"}'))  # fmt: skip
    crawl = finished_crawl(store, process, "lifegate")
    record = crawl.text_records[0]
    storage = FileStorage(str(store))
    build_indexes(storage)
    with serving(storage) as (base, app):
        [entry] = [e for e in app.index.lookup(record["url"]) if e.status == 200][:1]
        assert app.reader.load(entry).content_encoding == "zstd"  # archived as sent
        status, headers, body = fetch(f"{base}/web/{entry.timestamp}mp_/{record['url']}")
        assert status == 200 and "Content-Encoding" not in headers
        assert record["title"].encode() in body and b'href="/web/' in body
    code, out, err = run(capsys, "reextract", "--store", str(store), "--workers", "1")
    assert code == 0 and f"re-extracted {len(crawl.text_records)} of" in out, err
    [rebuilt] = (store / "reextract").glob("*/*.jsonl")
    assert [json.loads(line) for line in rebuilt.read_text().splitlines()] == crawl.text_records


# --- Batch commands -------------------------------------------------------------------------------


def test_a_bad_json_line_is_reported_with_its_place_and_the_rest_goes_on(
    it_crawl, tmp_path, capsys
):
    store = fixture_store(tmp_path / "store", it_crawl)
    text = store / "crawls" / it_crawl.crawl_dir.name / "text" / "articles.jsonl"
    lines = text.read_text().splitlines(keepends=True)
    text.write_text("".join([*lines[:2], "this is not JSON\n", "[1, 2]\n", *lines[2:]]))
    where = f"crawls/{it_crawl.crawl_dir.name}/text/articles.jsonl"
    code, out, err = run(capsys, "export", "--store", str(store), "--name", "v1")
    assert code == 0 and "release v1: 30 rows" in out, err
    assert f"{where}:3:" in err and f"{where}:4:" in err and "skipped 2 unreadable lines" in err
    code, out, err = run(capsys, "reextract", "--store", str(store), "--workers", "1")
    assert code == 0 and "re-extracted 30 of 30 pages" in out and f"{where}:3:" in err
    storage = FileStorage(str(store))
    build_indexes(storage)
    with ReplayApp(storage) as app:
        assert len(app.catalog) == 30 and any(p.startswith(f"{where}:3:") for p in app.problems)
        home = app.flask.test_client().get("/").data.decode()
        assert "could be read" in home and f"{where}:4:" in home
    server = subprocess.Popen([sys.executable, "-m", "cli", "replay", "--store", str(store), "--port", "0"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout.readline().startswith("http://127.0.0.1:")  # it starts
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert (
        f"lifegate-archive replay: could not read {where}:3: skipped a line that is not JSON" in err
    )


@pytest.mark.parametrize("damage", ["missing", "symlink"])
def test_a_listed_file_that_cannot_be_read_fails_export_or_is_skipped_and_listed(
    it_crawl, tmp_path, capsys, damage
):
    store = fixture_store(tmp_path / "store", it_crawl)
    add_crawl(
        store, "20990101T000000Z-lifegate", it_crawl.text_records[:5], warcs_from=it_crawl.crawl_dir
    )
    text = store / "crawls" / it_crawl.crawl_dir.name / "text" / "articles.jsonl"
    outside = tmp_path / "elsewhere.jsonl"
    shutil.move(text, outside)
    if damage == "symlink":
        text.symlink_to(outside)
    code, out, err = run(capsys, "export", "--store", str(store), "--name", "v1")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert (
        "text/articles.jsonl: listed in the crawl's manifest but missing" in err
        and "--skip-damaged" in err
    )
    code, out, err = run(capsys, "export", "--store", str(store), "--name", "v1", "--skip-damaged")
    assert code == 0 and "release v1: 5 rows" in out, err
    assert "articles.jsonl: listed in the crawl's manifest but missing" in err
    assert "1 unreadable files" in err
    code, out, err = run(capsys, "reextract", "--store", str(store))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--skip-damaged" in err


def test_reextract_with_a_missing_warc_file_fails_or_skips_and_lists_it(it_crawl, tmp_path, capsys):
    store = fixture_store(tmp_path / "store", it_crawl)
    [warc] = it_crawl.warc_files[:1]
    (store / "crawls" / it_crawl.crawl_dir.name / "warc" / warc.name).unlink()
    code, out, err = run(capsys, "reextract", "--store", str(store))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and warc.name in err
    code, out, err = run(
        capsys, "reextract", "--store", str(store), "--skip-damaged", "--workers", "1"
    )
    assert code == 0 and f"{warc.name}: listed in the crawl's manifest but missing" in err
    assert "unreadable inputs listed above" in out


# --- No 500 ----------------------------------------------------------------------------------------


def test_crafted_requests_get_a_4xx_with_the_csp(takedown_store, tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    shutil.copytree(takedown_store.root, storage.root)
    release = {"format": "lifegate-archive/dataset-release/1", "name": "v1", "created": "2025",
               "previous": None, "files": [{"path": "README.md", "size": 1, "kind": "card"}]}  # fmt: skip
    storage.put_bytes("datasets/v1/manifest.json", json.dumps(release).encode())
    with ReplayApp(storage) as app:
        client = app.flask.test_client()
        for path, expected in [("/?page=²", {400}), ("/?page=٣", {400}), ("/record/²", {404}),
                               ("/record/٣٣", {404}), (f"/web/http://{HOST}:80:/about-us", {400, 451}),
                               (f"/web/{STAMP}/http://{HOST}:99999/about-us", {400, 451}),
                               ("/datasets", {200})]:  # fmt: skip
            response = client.get(path)
            assert response.status_code in expected, (path, response.status_code)
            assert response.headers["Content-Security-Policy"] == UI_CSP, path
        for host in ("a" * 64 + ".example", "x" * 300, "exa mple", "ex\x7fample", "[::1", "h:port"):
            response = client.get("/", headers={"Host": host})
            assert response.status_code == 400, host
            assert response.headers["Content-Security-Policy"] == UI_CSP
        # The Host header never reaches Location or Link: URLs are relative without a base URL.
        response = client.get(f"/web/{NEIGHBOUR}", headers={"Host": "evil.example"})
        assert response.status_code == 302 and response.headers["Location"].startswith("/web/")
        assert "evil" not in response.headers["Link"] and "evil" not in response.headers["Location"]
    with ReplayApp(storage, base_url="https://archive.example.org/") as app:
        response = app.flask.test_client().get(
            f"/web/{NEIGHBOUR}", headers={"Host": "evil.example"}
        )
        assert response.headers["Location"].startswith("https://archive.example.org/web/")
    with pytest.raises(ValueError):
        ReplayApp(storage, base_url="javascript:alert(1)")


def _fuzz_request(rng: random.Random) -> tuple[str, dict[str, str]]:
    pieces = ["/", "/web/", "/web/2025/", f"/web/{STAMP}mp_/", f"/web/{STAMP}id_/", "/web/1/",
              f"/web/{STAMP}zz_/", "/timemap/link/", "/timemap/json/", "/timemap/", "/captures?url=",
              "/record/", "/article/", "/datasets", "/datasets/v1/", "/?page=", "/?q=", "/?site=",
              "/web/" + GONE, "/web/" + NEIGHBOUR, "/static/", "/web/" + "9" * 20 + "/"]  # fmt: skip
    atoms = ["http://", "https://", "http:/", HOST, "www.", ":80", ":", "::", "%", "%2F", "%3A",
             "%00", "%ff", "%C0%AF", "/", "//", "..", ".", "?", "&", "=", "#", "²", "٣", "é", "\u202e",
             "about-us", "about-us-2", "[::1]", "@", "\\", "*", "0", "99999999999999999999", "-1",
             "id_", "mp_", " ", "\t", "<script>", "'", '"', "a" * 70]  # fmt: skip
    path = rng.choice(pieces) + "".join(rng.choice(atoms) for _ in range(rng.randint(0, 8)))
    path = quote(path, safe="/:?&=%@[]*'!$()+,;~")
    headers = {}
    if rng.random() < 0.4:
        headers["Host"] = rng.choice(["localhost", "a" * 64 + ".x", "127.0.0.1:8080", "[::1]:80",
                                      "evil.example", "x" * 400, "h:99999", "", "-bad-.example"])  # fmt: skip
    if rng.random() < 0.3:
        headers["Accept-Datetime"] = rng.choice(["Sat, 01 Mar 2025 12:00:00 GMT", "yesterday", "GMT",
                                                 "Mon, 99 Foo 9999 99:99:99 GMT", "0" * 100 + " GMT"])  # fmt: skip
    if rng.random() < 0.3:
        headers["Accept-Encoding"] = rng.choice(["gzip", "br, zstd", "*", ";;;", "gzip;q=0"])
    return path, headers


def test_fuzzed_requests_never_get_a_5xx(takedown_store):
    rng = random.Random(20261204)
    slowest = 0.0
    statuses: dict[int, int] = {}
    with ReplayApp(takedown_store) as app:
        client = app.flask.test_client()
        for _ in range(3000):
            path, headers = _fuzz_request(rng)
            started = time.monotonic()
            response = client.get(path, headers=headers)
            elapsed = time.monotonic() - started
            slowest = max(slowest, elapsed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (path, headers, response.status_code)
            assert "Content-Security-Policy" in response.headers, path
            assert elapsed < 5, (path, elapsed)
    print(f"statuses {sorted(statuses.items())}, slowest {slowest * 1000:.0f} ms")
    assert len(statuses) > 4  # the generator reaches many outcomes, not one error page


# --- extract ---------------------------------------------------------------------------------------


def test_extract_stops_reading_at_its_limit():
    started = time.monotonic()
    process = subprocess.run(check=False, args=[sys.executable, "-m", "cli", "extract", "/dev/zero", "--url", "http://x.example/"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert process.returncode == 1 and "larger than EXTRACT_MAX_BYTES" in process.stderr
    assert "Traceback" not in process.stderr and time.monotonic() - started < 30
