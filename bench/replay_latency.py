"""Index lookup and replay latency (p50/p99), on a store or on synthetic archives (run by hand).

    python3 bench/replay_latency.py synthetic [--records 10000,100000] [--samples 500]
    python3 bench/replay_latency.py STORE [--samples 500]
    python3 bench/replay_latency.py synthetic --lookup-lines 1000000

A synthetic archive is one crawl of N gzip-encoded article pages (each with a stylesheet and an
image) written with the project's own WARC writer, then indexed. Lookups time ``CdxjIndex.nearest``;
replays time whole HTTP requests to the replay server on loopback (``mp_``: rewritten HTML, ``id_``:
raw), one at a time. ``--lookup-lines`` also times lookups in a plain CDXJ file of that many lines.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from werkzeug.serving import make_server

from archive.crawl import CrawlManifest, ManifestEntry, warc_key
from archive.index import INDEX_KEY, CdxjIndex, iter_entries
from archive.indexer import build_indexes
from archive.replay import ReplayApp
from archive.storage import FileStorage, open_storage
from archive.warc import HttpExchange, RollingWarcWriter, WarcFileNamer

CRAWL = "20250101T000000Z-bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
PAGE = (
    "<!doctype html><html><head><title>Articolo {n}</title>"
    '<link rel="stylesheet" href="/style.css"></head><body><h1>Articolo {n}</h1>'
    '<img src="/img/{n}.jpg" srcset="/img/{n}-300.jpg 300w, /img/{n}-768.jpg 768w">'
    + "<p>Testo dell'articolo numero {n}, con qualche parola in più.</p>" * 40
    + '<a href="/articolo-{m}">altro</a></body></html>'
)


def synthetic_store(root: Path, records: int) -> FileStorage:
    """A committed crawl of ``records`` article responses, indexed."""
    storage = FileStorage(str(root))
    directory = storage.staging_path(warc_key(CRAWL, "x")).parent
    writer = RollingWarcWriter(
        directory, namer=WarcFileNamer("BENCH", hostname="bench"), warcinfo_fields={"software": "bench"},
        max_size=200_000_000,
    )  # fmt: skip
    for n in range(records):
        body = gzip.compress(PAGE.format(n=n, m=(n * 7) % records).encode(), compresslevel=1, mtime=0)
        writer.write_exchange(
            HttpExchange(
                url=f"https://www.example.it/articolo-{n}",
                method="GET",
                request_headers=[(b"User-Agent", b"bench")],
                status=200,
                response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), (b"Content-Encoding", b"gzip")],
                body=body,
                fetch_started=START + timedelta(seconds=n),
            )
        )
    writer.close()
    entries = [
        ManifestEntry.from_stored(storage.put_file(warc_key(CRAWL, p.name), p)) for p in writer.closed_files
    ]
    CrawlManifest(CRAWL, "bench", "s", "f", "finished", entries).write(storage)
    build_indexes(storage)
    return storage


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(ms)})"


def timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def measure(storage, samples: int, label: str, wayback: Path | None = None) -> None:
    with storage.open(INDEX_KEY) as fh:
        entries = [e for e in iter_entries(fh) if e.status == 200 and e.mime == "text/html"]
    rng = random.Random(7)
    picks = [rng.choice(entries) for _ in range(samples)]
    with ReplayApp(storage) as app, CdxjIndex(Path(storage.root) / INDEX_KEY) as index:
        reads = index.reads
        lookups = timed([lambda e=e: index.nearest(e.url, e.timestamp) for e in picks])
        per_lookup = (index.reads - reads) / len(picks)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            fetch(f"{base}/web/{picks[0].timestamp}mp_/{picks[0].url}")  # warm up
            rewritten = timed([lambda e=e: fetch(f"{base}/web/{e.timestamp}mp_/{e.url}") for e in picks])
            raw = timed([lambda e=e: fetch(f"{base}/web/{e.timestamp}id_/{e.url}") for e in picks])
        finally:
            server.shutdown()
            server.server_close()
    size = (Path(storage.root) / INDEX_KEY).stat().st_size
    print(f"{label}: {len(entries)} pages indexed, index {size / 1e6:.1f} MB")
    print(f"  lookup (nearest)      {percentiles(lookups)}   {per_lookup:.1f} reads/lookup")
    print(f"  replay mp_ (rewrite)  {percentiles(rewritten)}")
    print(f"  replay id_ (raw)      {percentiles(raw)}")
    if wayback is not None:
        measure_pywb(wayback, Path(storage.root), picks)


def measure_pywb(wayback: Path, root: Path, picks: list) -> None:
    """The same picks replayed by pywb from the same WARCs through the same CDXJ index."""
    with tempfile.TemporaryDirectory(prefix="pywb-bench-") as tmp:
        Path(tmp, "config.yaml").write_text(
            f"collections:\n  bench:\n    index_paths: {root / INDEX_KEY}\n    archive_paths: {root}/\n"
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([str(wayback), "-b", "127.0.0.1", "-p", str(port)], cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{port}/bench"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    fetch(f"{base}/{picks[0].timestamp}id_/{picks[0].url}")  # warm up
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            rewritten = timed([lambda e=e: fetch(f"{base}/{e.timestamp}mp_/{e.url}") for e in picks])
            raw = timed([lambda e=e: fetch(f"{base}/{e.timestamp}id_/{e.url}") for e in picks])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"  pywb mp_ (rewrite)    {percentiles(rewritten)}")
    print(f"  pywb id_ (raw)        {percentiles(raw)}")


def lookup_only(lines: int, samples: int, workdir: Path) -> None:
    """Lookups in a plain sorted CDXJ file of ``lines`` lines (no WARC behind it)."""
    path = workdir / f"lines-{lines}.cdxj"
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            data = {"url": f"https://www.example.it/p{i:08d}", "mime": "text/html", "status": "200",
                    "digest": "sha1:AAAA", "length": "9000", "offset": str(i * 9000),
                    "filename": "crawls/c/warc/x.warc.gz"}  # fmt: skip
            out.write(f"it,example)/p{i:08d} 20250101{i % 1000000:06d} {json.dumps(data)}\n")
    rng = random.Random(7)
    with CdxjIndex(path) as index:
        urls = [f"https://www.example.it/p{rng.randrange(lines):08d}" for _ in range(samples)]
        reads = index.reads
        times = timed([lambda u=u: index.lookup(u) for u in urls])
        per_lookup = (index.reads - reads) / samples
    print(f"plain CDXJ, {lines} lines, {path.stat().st_size / 1e6:.0f} MB")
    print(f"  lookup                {percentiles(times)}   {per_lookup:.1f} reads/lookup")
    path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("archive", help="'synthetic', or a store path/URI with indexes/all.cdxj")
    parser.add_argument("--records", default="10000,100000", help="synthetic archive sizes")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--lookup-lines", type=int, default=0, help="also time a plain CDXJ of N lines")
    parser.add_argument("--pywb", type=Path, help="a pywb `wayback` executable: replay the same picks with it too")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    if args.archive != "synthetic":
        measure(open_storage(args.archive), args.samples, args.archive, args.pywb)
        return 0
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        for records in (int(r) for r in args.records.split(",") if r):
            start = time.perf_counter()
            storage = synthetic_store(Path(tmp) / f"store-{records}", records)
            print(f"synthetic {records} records: written and indexed in {time.perf_counter() - start:.1f} s",
                  flush=True)  # fmt: skip
            measure(storage, args.samples, f"synthetic {records}", args.pywb)
        if args.lookup_lines:
            lookup_only(args.lookup_lines, args.samples, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
